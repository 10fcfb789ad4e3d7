import { describe, expect, it } from 'vitest';
import { backoff, resolveClientOptions } from './client.options.js';

describe('client options', () => {
  it('backoff: exponential, capped at maxMs, full jitter draws in [0, ceiling)', () => {
    const retry = resolveClientOptions({ url: 'http://x', retry: { initialMs: 100, maxMs: 1000, jitter: 'none' } }).retry;
    expect([0, 1, 2, 3, 4, 10].map((a) => backoff(retry, a))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const full = { ...retry, jitter: 'full' as const };
    const draws = Array.from({ length: 500 }, () => backoff(full, 3));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(800);
    expect(new Set(draws).size).toBeGreaterThan(400); // random, not a constant
  });

  it('defaults, and url required outside a page', () => {
    const o = resolveClientOptions({ url: 'http://x/api/' });
    expect(o).toMatchObject({ url: 'http://x/api', transport: 'auto', wsPath: '/ws', refreshable: false });
    expect(o.retry).toEqual({ initialMs: 250, maxMs: 30_000, factor: 2, jitter: 'full', maxAttempts: Infinity });
    expect(resolveClientOptions({ url: 'http://x', connectionParams: () => ({}) }).refreshable).toBe(true);
    expect(() => resolveClientOptions({})).toThrow(/url/);
  });
});
