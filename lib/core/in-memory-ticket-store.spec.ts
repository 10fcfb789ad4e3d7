import { afterEach, describe, expect, it, vi } from 'vitest';
import { InMemoryTicketStore } from './in-memory-ticket-store.js';
import { LonglinkConfigError, resolveLonglinkOptions } from './longlink-options.js';

describe('InMemoryTicketStore', () => {
  afterEach(() => vi.useRealTimers());

  it('accepts an id once, forgets it after expiry, and refuses (fails closed) when full', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const store = new InMemoryTicketStore(2);
    expect(store.consume('a', 1_000_100)).toBe(true);
    expect(store.consume('a', 1_000_100)).toBe(false);
    expect(store.consume('b', 1_000_500)).toBe(true);
    expect(store.consume('c', 1_000_500)).toBe(false); // full: refused, memory stays bounded
    vi.setSystemTime(1_000_200); // 'a' expired: swept when full
    expect(store.consume('c', 1_000_500)).toBe(true);
    expect(store.consume('b', 1_000_500)).toBe(false);
  });
});

describe('tickets options', () => {
  it('are validated at startup without echoing the secret', () => {
    expect(() => resolveLonglinkOptions({ tickets: { secret: 'short-secret' } })).toThrow(LonglinkConfigError);
    expect(() => resolveLonglinkOptions({ tickets: { secret: 'short-secret' } })).not.toThrow(/short-secret/);
    expect(() => resolveLonglinkOptions({ tickets: { ttlMs: 0 } })).toThrow(/tickets\.ttlMs/);
    expect(() => resolveLonglinkOptions({ tickets: { store: {} as never } })).toThrow(/tickets\.store/);
    expect(resolveLonglinkOptions({}).tickets.ttlMs).toBe(30_000);
  });
});
