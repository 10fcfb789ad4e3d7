import { StreamErrorCode } from '../../errors/stream-error-code.js';

/**
 * The SSE transport's complete table: each error code's HTTP status, used when the error
 * comes before the first event (after it, the code travels in an `event: error`).
 * See PROTOCOL.md, "SSE: errors".
 */
export const SSE_STATUS_BY_CODE: Readonly<Record<StreamErrorCode, number>> = {
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
