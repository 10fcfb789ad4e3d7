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

describe('backoff with a ceiling hint (SSE retry:, the gRPC trailer)', () => {
  const retry = resolveClientOptions({ url: 'http://x', retry: { initialMs: 100, maxMs: 1000, jitter: 'none' } }).retry;
  it('a hint only raises the ceiling, clamped to maxMs; anything not a number is ignored', () => {
    expect([0, -1, 50, 150, 400, 99_999_999_999, 1e300, Infinity, NaN, '500', null].map((h) => backoff(retry, 0, h))).toEqual([
      100, 100, 100, 150, 400, 1000, 1000, 1000, 100, 100, 100,
    ]);
    expect(backoff(retry, 3, 300)).toBe(800);
  });
  it('full jitter below the raised ceiling', () => {
    const draws = Array.from({ length: 500 }, () => backoff({ ...retry, jitter: 'full' }, 0, 2000));
    expect(Math.max(...draws)).toBeLessThan(1000);
    expect(Math.min(...draws)).toBeLessThan(200);
  });
});

describe('backoff with a hand-over delay (details.retryAfterMs)', () => {
  const retry = resolveClientOptions({ url: 'http://x', retry: { initialMs: 100, maxMs: 1000, jitter: 'none' } }).retry;
  it('waits the hint plus at most a tenth, capped at maxMs, never below the backoff', () => {
    for (const hint of [150, 400, 900]) {
      const d = backoff(retry, 0, hint, true);
      expect(d).toBeGreaterThanOrEqual(hint);
      expect(d).toBeLessThanOrEqual(Math.min(1000, hint * 1.1));
    }
    expect([0, -1, 50, NaN, 99_999_999_999, 1e300, Infinity].map((h) => backoff(retry, 0, h, true))).toEqual([100, 100, 100, 100, 1000, 1000, 1000]);
    expect(backoff(retry, 3, 300, true)).toBe(800); // the backoff's own delay wins
  });
  it("the server's spread survives: hints uniform over [0, 5000) give delays about uniform over it, not bunched near 0", () => {
    const full = resolveClientOptions({ url: 'http://x', retry: { initialMs: 100, maxMs: 30_000 } }).retry;
    const n = 4000;
    const hints = Array.from({ length: n }, (_, i) => (i / n) * 5000);
    const delays = hints.map((h) => backoff(full, 0, h, true));
    // A hint's delay: in [hint, 1.1 × hint] (or the backoff's draw below 100 ms for hints under it).
    expect(delays.every((d, i) => d >= hints[i]! && d <= Math.max(100, hints[i]! * 1.1))).toBe(true);
    // Under 500 ms: the tenth of the spread the server put there (a full jitter below each hint
    // put a third there: P(U1·U2 < 0.1) = 0.1 × (1 + ln 10) ≈ 0.33).
    expect(delays.filter((d) => d < 500).length / n).toBeLessThan(0.11);
    const ceilings = hints.map((h) => backoff(full, 0, h, false));
    expect(ceilings.filter((d) => d < 500).length / n).toBeGreaterThan(0.25);
  });
});
