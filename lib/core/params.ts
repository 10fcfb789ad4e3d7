import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException } from '../errors/stream-exception.js';
import { DEFAULT_MAX_PARAMS_DEPTH } from '../longlink.defaults.js';

/** Keys that could reach an object's prototype if merged; refused anywhere in params. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Throws `BAD_REQUEST` for a key that must never come from a client. */
export function assertSafeKey(key: string): void {
  if (FORBIDDEN_KEYS.has(key)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `Forbidden parameter key "${key}"`);
  }
}

/** The `BAD_REQUEST` for input nested deeper than {@link DEFAULT_MAX_PARAMS_DEPTH} (an expected error: no stack is logged). */
export function tooDeepError(what: string, maxDepth = DEFAULT_MAX_PARAMS_DEPTH): StreamException {
  return new StreamException(StreamErrorCode.BAD_REQUEST, `${what} is nested too deeply (at most ${maxDepth} levels)`, { maxDepth });
}

/**
 * Whether JSON `text` nests objects and arrays more than `maxDepth` levels deep. One pass
 * over the characters with a counter (no recursion, no allocation), stopping as soon as the
 * limit is passed: run before `JSON.parse`, so nothing deep is ever built.
 */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * Parses client JSON that must be an object (stream params). Refuses nesting deeper than
 * `maxDepth` (before parsing) and `__proto__`, `constructor` and `prototype` keys at any
 * depth with `BAD_REQUEST`.
 */
export function parseParamsJson(text: string, what = 'params', maxDepth = DEFAULT_MAX_PARAMS_DEPTH): Record<string, unknown> {
  if (jsonDepthExceeds(text, maxDepth)) throw tooDeepError(what, maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v: unknown) => {
      assertSafeKey(key);
      return v;
    });
  } catch (error) {
    if (error instanceof StreamException) throw error;
    if (error instanceof RangeError) throw tooDeepError(what, maxDepth);
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `${what} is not valid JSON`);
  }
  return checkParamsObject(value, what);
}

/**
 * Refuses `__proto__`, `constructor` and `prototype` keys at any depth of a value parsed by
 * someone else (e.g. the platform's JSON body parser), and nesting deeper than `maxDepth`
 * (the value itself is level 1; the walk stops there, so its recursion is bounded).
 */
export function assertSafeKeysDeep(value: unknown, what = 'params', maxDepth = DEFAULT_MAX_PARAMS_DEPTH): void {
  const visit = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object') return;
    if (depth > maxDepth) throw tooDeepError(what, maxDepth);
    if (Array.isArray(v)) return v.forEach((x) => visit(x, depth + 1));
    for (const key of Object.keys(v)) {
      assertSafeKey(key);
      visit((v as Record<string, unknown>)[key], depth + 1);
    }
  };
  visit(value, 1);
}

/** Checks that client params are a plain JSON object (not null, not an array). */
export function checkParamsObject(value: unknown, what = 'params'): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}
