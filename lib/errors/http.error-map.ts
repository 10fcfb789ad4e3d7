import { StreamErrorCode } from './stream-error-code.js';
import type { StreamException } from './stream-exception.js';

/**
 * Each error code's HTTP status: the one table every HTTP-shaped answer uses (an SSE refusal
 * before the first event, a refused WebSocket upgrade, a `StreamException` reaching an ordinary
 * HTTP route). See PROTOCOL.md §2.
 *
 * @publicApi
 */
export const HTTP_STATUS_BY_CODE: Readonly<Record<StreamErrorCode, number>> = {
  [StreamErrorCode.BAD_REQUEST]: 400,
  [StreamErrorCode.UNAUTHENTICATED]: 401,
  [StreamErrorCode.PERMISSION_DENIED]: 403,
  [StreamErrorCode.NOT_FOUND]: 404,
  [StreamErrorCode.CONFLICT]: 409,
  [StreamErrorCode.RESOURCE_EXHAUSTED]: 429,
  [StreamErrorCode.DEADLINE_EXCEEDED]: 504,
  [StreamErrorCode.INTERNAL]: 500,
  [StreamErrorCode.UNAVAILABLE]: 503,
};

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
