import { afterEach, describe, expect, it, vi } from 'vitest';
import { StreamException } from '../errors/stream-exception.js';
import { InMemoryTicketStore } from './in-memory-ticket-store.js';
import { LonglinkConfigError } from '../errors/longlink-config.error.js';
import { resolveLonglinkOptions } from './longlink-options.js';

describe('InMemoryTicketStore', () => {
  afterEach(() => vi.useRealTimers());

  it('accepts an id once, forgets it after expiry, and refuses with UNAVAILABLE (not "already used") when full', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const store = new InMemoryTicketStore(2);
    expect(store.consume('a', 1_000_100)).toBe(true);
    expect(store.consume('a', 1_000_100)).toBe(false);
    expect(store.consume('b', 1_000_500)).toBe(true);
    expect(store.consume('a', 1_000_100)).toBe(false); // full, but a used id is still "used"
    let full: unknown;
    try {
      store.consume('c', 1_000_500);
    } catch (error) {
      full = error;
    }
    expect(full).toBeInstanceOf(StreamException);
    expect((full as StreamException).code).toBe('UNAVAILABLE');
    expect((full as StreamException).details).toEqual({ retryAfterMs: 100 }); // until 'a' expires
    vi.setSystemTime(1_000_200); // 'a' expired: forgotten
    expect(store.consume('c', 1_000_500)).toBe(true);
    expect(store.consume('b', 1_000_500)).toBe(false);
    expect(store.size).toBe(2);
  });

  it('at 100,000 live ids: checks stay fast (no whole-map sweep), expired ids are forgotten in expiry order', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const store = new InMemoryTicketStore(100_000);
    // Expiries out of order (tickets of different TTLs).
    for (let i = 0; i < 100_000; i++) expect(store.consume(`id${i}`, 1_010_000 + ((i * 7919) % 100_000))).toBe(true);
    expect(store.size).toBe(100_000);
    let started = performance.now();
    for (let i = 0; i < 10_000; i++) expect(store.consume(`id${i}`, 2_000_000)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500); // 10,000 checks; a sweep each would be 10^9 steps
    // Half of them expire: each new id forgets what has expired, and fits.
    vi.setSystemTime(1_060_000);
    started = performance.now();
    for (let i = 0; i < 10_000; i++) expect(store.consume(`new${i}`, 1_200_000)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(store.size).toBe(100_000 - 50_001 + 10_000);
    expect(store.consume('id99999', 2_000_000)).toBe(false); // expires at 1_010_000 + 99_999*7919 % 100_000: live
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
