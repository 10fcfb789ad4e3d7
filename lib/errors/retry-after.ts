import { StreamErrorCode } from '../protocol/stream-error-code.js';
import type { StreamException } from './stream-exception.js';

/** `Retry-After` when `UNAVAILABLE` carries no hint: the hub reconnects to Redis well within it. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/**
 * The `Retry-After` header value (whole seconds, at least 1) for an error worth retrying:
 * `details.retryAfterMs` when the error carries one (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`),
 * otherwise {@link DEFAULT_RETRY_AFTER_SECONDS} for `UNAVAILABLE`; `undefined` for the rest.
 */
export function retryAfterSeconds(error: StreamException): number | undefined {
  if (error.code !== StreamErrorCode.UNAVAILABLE && error.code !== StreamErrorCode.RESOURCE_EXHAUSTED) return undefined;
  const hint = (error.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  if (typeof hint === 'number' && Number.isFinite(hint) && hint >= 0) return Math.max(1, Math.ceil(hint / 1000));
  return error.code === StreamErrorCode.UNAVAILABLE ? DEFAULT_RETRY_AFTER_SECONDS : undefined;
}
