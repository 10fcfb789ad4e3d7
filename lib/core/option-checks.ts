import { LonglinkConfigError } from '../errors/longlink-config.error.js';

/*
 * The checks the option resolvers are made of: each takes the option's path (for the message)
 * and the value given, and throws a LonglinkConfigError naming it when the value is wrong.
 */

/** Throws the error for an option that is not what it should be. */
export function fail(path: string, expected: string, value: unknown): never {
  throw new LonglinkConfigError(`LonglinkModule: invalid option "${path}": expected ${expected}, got ${JSON.stringify(value) ?? String(value)}`);
}

/** A plain object with only the `keys` given (`{}` when absent). */
export function checkObject(path: string, value: unknown, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'an object', value);
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new LonglinkConfigError(`LonglinkModule: unknown option "${path ? `${path}.` : ''}${key}" (known: ${keys.join(', ')})`);
    }
  }
  return value as Record<string, unknown>;
}

/** A safe integer ≥ `min`, or `fallback` when absent. */
export function int(path: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(path, `an integer >= ${min}`, value);
  }
  return value;
}

/** A boolean, or `fallback` when absent. */
export function bool(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(path, 'a boolean', value);
  return value;
}

/** A non-empty string or an array of them, as an array (`[]` when absent). */
export function strings(path: string, value: unknown): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((v) => typeof v === 'string' && v.length > 0)) fail(path, 'a string or an array of strings', value);
  return list as string[];
}
