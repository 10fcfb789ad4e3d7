/**
 * The one set of error codes every transport speaks. Each transport maps each code onto
 * its native form in one complete table (`lib/protocol/*.protocol.ts`); see PROTOCOL.md §2.
 *
 * @publicApi
 */
export enum StreamErrorCode {
  /** The request is malformed: unknown parameter shape, failed validation, bad last event id. */
  BAD_REQUEST = 'BAD_REQUEST',
  /** No credentials, or credentials that could not be verified. */
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  /** Credentials are valid but do not allow this stream (a guard returned `false`). */
  PERMISSION_DENIED = 'PERMISSION_DENIED',
  /** No stream of that name. */
  NOT_FOUND = 'NOT_FOUND',
  /** The request conflicts with current state (e.g. a duplicate subscription id). */
  CONFLICT = 'CONFLICT',
  /** A limit was hit: slow consumer queue, too many subscriptions, rate limit. */
  RESOURCE_EXHAUSTED = 'RESOURCE_EXHAUSTED',
  /** The stream (or an interceptor's `timeout()`) ran out of time. */
  DEADLINE_EXCEEDED = 'DEADLINE_EXCEEDED',
  /** An unexpected server-side failure; the message is always generic. */
  INTERNAL = 'INTERNAL',
  /** The server cannot serve the stream now (shutting down, broker down); retry later. */
  UNAVAILABLE = 'UNAVAILABLE',
}

/** Every code, in declaration order. */
export const STREAM_ERROR_CODES: readonly StreamErrorCode[] = Object.values(StreamErrorCode);

/** Whether `value` is one of the {@link StreamErrorCode} strings. */
export function isStreamErrorCode(value: unknown): value is StreamErrorCode {
  return typeof value === 'string' && (STREAM_ERROR_CODES as readonly string[]).includes(value);
}

/**
 * The codes a client reconnects after (with backoff): the server or the path to it may recover.
 * The others describe the request itself, so retrying it unchanged cannot help. PROTOCOL.md §2.
 */
export const TRANSIENT_CODES: readonly StreamErrorCode[] = [
  StreamErrorCode.UNAVAILABLE,
  StreamErrorCode.INTERNAL,
  StreamErrorCode.RESOURCE_EXHAUSTED,
  StreamErrorCode.DEADLINE_EXCEEDED,
];

/** Whether a subscription that ended with `code` is worth reconnecting ({@link TRANSIENT_CODES}). */
export function isTransientCode(code: string): boolean {
  return (TRANSIENT_CODES as readonly string[]).includes(code);
}
