import { describe, expect, it } from 'vitest';
import { IdempotencyKeys } from './idempotency-keys.js';

describe('IdempotencyKeys (in-memory hub)', () => {
  it('remembers a key per topic until its window ends', () => {
    let now = 1000;
    const keys = new IdempotencyKeys(10, () => now);
    keys.set('t', 'k', '7', 100);
    expect(keys.get('t', 'k')).toBe('7');
    expect(keys.get('u', 'k')).toBeUndefined();
    now += 100;
    expect(keys.get('t', 'k')).toBeUndefined();
    expect(keys.size).toBe(0);
  });

  it('stays within maxKeys, forgetting the oldest first, and drops expired keys as it adds', () => {
    let now = 0;
    const keys = new IdempotencyKeys(3, () => now);
    for (let i = 0; i < 5; i++) keys.set('t', `k${i}`, String(i), 1000);
    expect(keys.size).toBe(3);
    expect(keys.get('t', 'k1')).toBeUndefined();
    expect(keys.get('t', 'k2')).toBe('2');
    now = 2000;
    keys.set('t', 'fresh', '9', 1000);
    expect(keys.size).toBe(1);
  });
});
