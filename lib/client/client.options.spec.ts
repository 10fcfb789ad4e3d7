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

describe('backoff with a server hint', () => {
  const retry = resolveClientOptions({ url: 'http://x', retry: { initialMs: 100, maxMs: 1000, jitter: 'none' } }).retry;
  it('a hint only raises the ceiling, clamped to maxMs; anything not a number is ignored', () => {
    expect([0, -1, 50, 150, 400, 99_999_999_999, 1e300, Infinity, NaN, '500', null].map((h) => backoff(retry, 0, h))).toEqual([100, 100, 100, 150, 400, 1000, 1000, 1000, 100, 100, 100]);
    expect(backoff(retry, 3, 300)).toBe(800);
  });
  it('full jitter below the raised ceiling', () => {
    const draws = Array.from({ length: 500 }, () => backoff({ ...retry, jitter: 'full' }, 0, 2000));
    expect(Math.max(...draws)).toBeLessThan(1000);
    expect(Math.min(...draws)).toBeLessThan(200);
  });
});
