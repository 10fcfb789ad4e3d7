import { StreamErrorCode } from './stream-error-code.js';

/**
 * The gRPC status numbers the protocol uses (the values of `@grpc/grpc-js` `status`, fixed by
 * the gRPC specification), written out so that this module imports no gRPC library.
 */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** Trailer that carries the shared error code next to the gRPC status. */
export const GRPC_ERROR_CODE_TRAILER = 'longlink-error-code';
/** Trailer with the error's `details` as JSON, when there are any. */
export const GRPC_ERROR_DETAILS_TRAILER = 'longlink-error-details';
/** Trailer of a shutdown hand-over: how long to wait (ms) before reconnecting. See PROTOCOL.md §2.1. */
export const GRPC_RETRY_AFTER_TRAILER = 'longlink-retry-after-ms';
/** Request metadata of a typed bidi binding: the stream's params as a JSON object. See PROTOCOL.md §7.3. */
export const GRPC_PARAMS_METADATA = 'longlink-params';

/**
 * The gRPC transport's complete table: each error code's gRPC status. See PROTOCOL.md §5.3.
 *
 * @publicApi
 */
export const GRPC_STATUS_BY_CODE: Readonly<Record<StreamErrorCode, number>> = {
  [StreamErrorCode.BAD_REQUEST]: GrpcStatus.INVALID_ARGUMENT,
  [StreamErrorCode.UNAUTHENTICATED]: GrpcStatus.UNAUTHENTICATED,
  [StreamErrorCode.PERMISSION_DENIED]: GrpcStatus.PERMISSION_DENIED,
  [StreamErrorCode.NOT_FOUND]: GrpcStatus.NOT_FOUND,
  [StreamErrorCode.CONFLICT]: GrpcStatus.ABORTED,
  [StreamErrorCode.RESOURCE_EXHAUSTED]: GrpcStatus.RESOURCE_EXHAUSTED,
  [StreamErrorCode.DEADLINE_EXCEEDED]: GrpcStatus.DEADLINE_EXCEEDED,
  [StreamErrorCode.INTERNAL]: GrpcStatus.INTERNAL,
  [StreamErrorCode.UNAVAILABLE]: GrpcStatus.UNAVAILABLE,
};

/**
 * Statuses the protocol never sends, as a client reads them: from a server that is not
 * longlink's, or a broken one. Retrying cannot help with any but `UNKNOWN`.
 */
const FOREIGN_STATUSES: Readonly<Record<number, StreamErrorCode>> = {
  [GrpcStatus.UNKNOWN]: StreamErrorCode.INTERNAL,
  [GrpcStatus.UNIMPLEMENTED]: StreamErrorCode.NOT_FOUND,
  [GrpcStatus.FAILED_PRECONDITION]: StreamErrorCode.BAD_REQUEST,
  [GrpcStatus.OUT_OF_RANGE]: StreamErrorCode.BAD_REQUEST,
};

/** {@link GRPC_STATUS_BY_CODE} read backwards, plus {@link FOREIGN_STATUSES}. */
const CODE_BY_GRPC_STATUS: Readonly<Record<number, StreamErrorCode>> = {
  ...FOREIGN_STATUSES,
  ...Object.fromEntries(Object.entries(GRPC_STATUS_BY_CODE).map(([code, status]) => [status, code as StreamErrorCode])),
};

/**
 * The code of a non-OK gRPC status that came without the {@link GRPC_ERROR_CODE_TRAILER}
 * trailer: the table read backwards; any other status (`CANCELLED`, `DATA_LOSS`, ...) is
 * `UNAVAILABLE`, as a dropped call is.
 */
export function codeOfGrpcStatus(status: number): StreamErrorCode {
  return CODE_BY_GRPC_STATUS[status] ?? StreamErrorCode.UNAVAILABLE;
}

/** The generic service's package and full name: `longlink.v1.Streams/Subscribe` (PROTOCOL.md §5.1). */
export const LONGLINK_GRPC_PACKAGE = 'longlink.v1';
export const LONGLINK_GRPC_SERVICE = 'longlink.v1.Streams';
