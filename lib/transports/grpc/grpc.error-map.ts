import { StreamErrorCode } from '../../errors/stream-error-code.js';

/** Trailer that carries the shared error code next to the gRPC status. */
export const GRPC_ERROR_CODE_TRAILER = 'longlink-error-code';
/** Trailer with the error's `details` as JSON, when there are any. */
export const GRPC_ERROR_DETAILS_TRAILER = 'longlink-error-details';
/** Trailer of a shutdown hand-over: how long to wait (ms) before reconnecting. See PROTOCOL.md §2.1. */
export const GRPC_RETRY_AFTER_TRAILER = 'longlink-retry-after-ms';

/**
 * The gRPC transport's complete table: each error code's gRPC status (numeric values of
 * `@grpc/grpc-js` `status`). See PROTOCOL.md §5.3.
 */
export const GRPC_STATUS_BY_CODE: Readonly<Record<StreamErrorCode, number>> = {
  [StreamErrorCode.BAD_REQUEST]: 3, // INVALID_ARGUMENT
  [StreamErrorCode.UNAUTHENTICATED]: 16, // UNAUTHENTICATED
  [StreamErrorCode.PERMISSION_DENIED]: 7, // PERMISSION_DENIED
  [StreamErrorCode.NOT_FOUND]: 5, // NOT_FOUND
  [StreamErrorCode.CONFLICT]: 10, // ABORTED
  [StreamErrorCode.RESOURCE_EXHAUSTED]: 8, // RESOURCE_EXHAUSTED
  [StreamErrorCode.DEADLINE_EXCEEDED]: 4, // DEADLINE_EXCEEDED
  [StreamErrorCode.INTERNAL]: 13, // INTERNAL
  [StreamErrorCode.UNAVAILABLE]: 14, // UNAVAILABLE
};
