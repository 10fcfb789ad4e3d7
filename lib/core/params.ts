import { StreamErrorCode } from '../errors/stream-error-code.js';
import { StreamException } from '../errors/stream-exception.js';

/** Keys that could reach an object's prototype if merged; refused anywhere in params. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Throws `BAD_REQUEST` for a key that must never come from a client. */
export function assertSafeKey(key: string): void {
  if (FORBIDDEN_KEYS.has(key)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `Forbidden parameter key "${key}"`);
  }
}

/**
 * Parses client JSON that must be an object (stream params). Refuses `__proto__`,
 * `constructor` and `prototype` keys at any depth with `BAD_REQUEST`.
 */
export function parseParamsJson(text: string, what = 'params'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v: unknown) => {
      assertSafeKey(key);
      return v;
    });
  } catch (error) {
    if (error instanceof StreamException) throw error;
    if (error instanceof RangeError) throw new StreamException(StreamErrorCode.BAD_REQUEST, `${what} is nested too deeply`);
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `${what} is not valid JSON`);
  }
  return checkParamsObject(value, what);
}

/**
 * Refuses `__proto__`, `constructor` and `prototype` keys at any depth of a value parsed by
 * someone else (e.g. the platform's JSON body parser), and nesting deeper than `maxDepth`.
 */
export function assertSafeKeysDeep(value: unknown, what = 'params', maxDepth = 64): void {
  const visit = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object') return;
    if (depth > maxDepth) throw new StreamException(StreamErrorCode.BAD_REQUEST, `${what} is nested too deeply`);
    if (Array.isArray(v)) return v.forEach((x) => visit(x, depth + 1));
    for (const key of Object.keys(v)) {
      assertSafeKey(key);
      visit((v as Record<string, unknown>)[key], depth + 1);
    }
  };
  visit(value, 0);
}

/** Checks that client params are a plain JSON object (not null, not an array). */
export function checkParamsObject(value: unknown, what = 'params'): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}
