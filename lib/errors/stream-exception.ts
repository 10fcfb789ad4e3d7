import { HttpException, HttpStatus } from '@nestjs/common';
import { TimeoutError } from 'rxjs';
import { StreamErrorCode, isStreamErrorCode } from '../protocol/stream-error-code.js';
import { MAX_ERROR_DETAILS_BYTES, MAX_ERROR_MESSAGE_BYTES, boundedText } from './error-bounds.js';

/** The JSON form of a {@link StreamException} as it reaches a client. */
export interface StreamErrorBody {
  code: StreamErrorCode;
  message: string;
  details?: unknown;
}

/** The message sent for every error that is not a deliberate, client-facing one. */
export const GENERIC_INTERNAL_MESSAGE = 'Internal server error';

/**
 * The one error type of nestjs-longlink. Throw it from a handler, guard, pipe or
 * interceptor (or emit it as an Observable error) to end a stream with a given code.
 * Anything else thrown is normalised into it by {@link toStreamException}.
 *
 * @publicApi
 */
export class StreamException extends Error {
  override readonly name = 'StreamException';

  constructor(
    readonly code: StreamErrorCode,
    message: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    // Bounded here, once, whatever made it (a long client input quoted by a ValidationPipe...).
    super(boundedText(String(message), MAX_ERROR_MESSAGE_BYTES), options);
  }

  /**
   * The body sent to clients: `{ code, message }` plus `details` when given, serialisable as
   * JSON and at most `MAX_ERROR_DETAILS_BYTES` (2 KiB) of it (other details, e.g. a cycle, a
   * BigInt or a huge object, are left out). The message is at most `MAX_ERROR_MESSAGE_BYTES`
   * (1 KiB, cut with `…`).
   */
  toJSON(): StreamErrorBody {
    if (this.details === undefined) return { code: this.code, message: this.message };
    let json: string | undefined;
    try {
      json = JSON.stringify(this.details);
    } catch {
      return { code: this.code, message: this.message };
    }
    if (json === undefined || Buffer.byteLength(json, 'utf8') > MAX_ERROR_DETAILS_BYTES) return { code: this.code, message: this.message };
    return { code: this.code, message: this.message, details: this.details };
  }
}

const HTTP_STATUS_TO_CODE: ReadonlyMap<number, StreamErrorCode> = new Map([
  [HttpStatus.BAD_REQUEST, StreamErrorCode.BAD_REQUEST],
  [HttpStatus.UNPROCESSABLE_ENTITY, StreamErrorCode.BAD_REQUEST],
  [HttpStatus.PAYLOAD_TOO_LARGE, StreamErrorCode.BAD_REQUEST],
  [HttpStatus.UNAUTHORIZED, StreamErrorCode.UNAUTHENTICATED],
  [HttpStatus.FORBIDDEN, StreamErrorCode.PERMISSION_DENIED],
  [HttpStatus.NOT_FOUND, StreamErrorCode.NOT_FOUND],
  [HttpStatus.CONFLICT, StreamErrorCode.CONFLICT],
  [HttpStatus.TOO_MANY_REQUESTS, StreamErrorCode.RESOURCE_EXHAUSTED],
  [HttpStatus.REQUEST_TIMEOUT, StreamErrorCode.DEADLINE_EXCEEDED],
  [HttpStatus.GATEWAY_TIMEOUT, StreamErrorCode.DEADLINE_EXCEEDED],
  [HttpStatus.SERVICE_UNAVAILABLE, StreamErrorCode.UNAVAILABLE],
]);

/** Maps an HTTP status (from a Nest `HttpException`) onto a stream error code. */
export function codeFromHttpStatus(status: number): StreamErrorCode {
  const code = HTTP_STATUS_TO_CODE.get(status);
  if (code) return code;
  return status >= 400 && status < 500 ? StreamErrorCode.BAD_REQUEST : StreamErrorCode.INTERNAL;
}

function httpExceptionMessage(error: HttpException): string {
  const response = error.getResponse();
  if (typeof response === 'string') return response;
  if (response && typeof response === 'object' && 'message' in response) {
    const { message } = response;
    if (Array.isArray(message)) return message.map(String).join('; ');
    if (typeof message === 'string') return message;
  }
  return error.message;
}

/**
 * Whether an error is deliberate and client-facing (a {@link StreamException}, a Nest
 * `HttpException`, an `RpcException`/`WsException` or an rxjs `TimeoutError`), as opposed
 * to a bug whose message must not leak.
 */
export function isExpectedError(error: unknown): boolean {
  return (
    (error instanceof StreamException && isStreamErrorCode(error.code)) ||
    error instanceof HttpException ||
    error instanceof TimeoutError ||
    isNestContextException(error)
  );
}

/** `RpcException` and `WsException` (from optional packages) carry `getError()`. */
function isNestContextException(error: unknown): error is Error & { getError(): unknown } {
  return (
    error instanceof Error &&
    (error.constructor.name === 'RpcException' || error.constructor.name === 'WsException') &&
    typeof (error as { getError?: unknown }).getError === 'function'
  );
}

/**
 * Normalises anything thrown into a {@link StreamException}:
 * `StreamException` as is; `HttpException` by status (401 → UNAUTHENTICATED, ...);
 * rxjs `TimeoutError` → DEADLINE_EXCEEDED; `RpcException`/`WsException` carrying
 * `{ code, message }` with a known code; everything else → INTERNAL with a generic
 * message (the original is kept as `cause` for logging, never sent).
 */
export function toStreamException(error: unknown): StreamException {
  if (error instanceof StreamException) {
    if (isStreamErrorCode(error.code)) return error;
    // A code outside the enum (e.g. from plain JS) has no mapping on any transport.
    return new StreamException(StreamErrorCode.INTERNAL, GENERIC_INTERNAL_MESSAGE, undefined, { cause: error });
  }
  if (error instanceof HttpException) {
    return new StreamException(codeFromHttpStatus(error.getStatus()), httpExceptionMessage(error), undefined, {
      cause: error,
    });
  }
  if (error instanceof TimeoutError) {
    return new StreamException(StreamErrorCode.DEADLINE_EXCEEDED, 'Stream timed out', undefined, { cause: error });
  }
  if (isNestContextException(error)) {
    const payload = error.getError();
    if (typeof payload === 'string') return new StreamException(StreamErrorCode.BAD_REQUEST, payload);
    if (payload && typeof payload === 'object') {
      const { code, message } = payload as { code?: unknown; message?: unknown };
      if (isStreamErrorCode(code) && typeof message === 'string') return new StreamException(code, message);
    }
  }
  return new StreamException(StreamErrorCode.INTERNAL, GENERIC_INTERNAL_MESSAGE, undefined, { cause: error });
}

/** The hand-over fields of a shutdown error (PROTOCOL.md §2.1). */
export interface ShutdownDetails {
  /** Wait this long (ms) before reconnecting: a random delay in `[0, shutdown.spreadMs)`. */
  retryAfterMs: number;
  /** The subscription's resume point: the last event id written to it, when it had one. */
  lastEventId?: string;
}

/**
 * The error every transport sends for subscriptions ended, or refused, by an application
 * shutdown; with the hand-over fields as `details` when given.
 */
export function shuttingDownError(details?: ShutdownDetails): StreamException {
  return new StreamException(StreamErrorCode.UNAVAILABLE, 'Server is shutting down', details);
}

/** `details.retryAfterMs` of an `UNAVAILABLE` error, when it has one (transports add their native hint). */
export function retryAfterMsOf(error: StreamException): number | undefined {
  if (error.code !== StreamErrorCode.UNAVAILABLE) return undefined;
  const value = (error.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}
