import { StreamErrorCode, isTransientCode } from '../protocol/stream-error-code.js';

/**
 * The error a subscription ends with: the protocol's `code`, `message` and `details`
 * (PROTOCOL.md §2). Failures the client detects itself (connection lost, heartbeat missed,
 * socket not opening) are `UNAVAILABLE`.
 *
 * @publicApi
 */
export class StreamError extends Error {
  override readonly name = 'StreamError';
  constructor(
    /** A code of PROTOCOL.md §2 (`UNAVAILABLE`, `UNAUTHENTICATED`, ...). */
    readonly code: string,
    message: string,
    /** The server's `details`, when it sent any. */
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** Whether a subscription that ended with `error` should reconnect: its code is transient (PROTOCOL.md §2); the others end it. */
export const isTransient = (error: StreamError): boolean => isTransientCode(error.code);

/** A `{code, message, details?}` object from the wire as a {@link StreamError}. */
export function fromWire(value: unknown, fallbackCode: string = StreamErrorCode.INTERNAL): StreamError {
  const e = (value ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
  return new StreamError(typeof e.code === 'string' ? e.code : fallbackCode, typeof e.message === 'string' ? e.message : 'Stream failed', e.details);
}

/** A failure the client detected itself: worth a reconnect. */
export const lost = (message: string): StreamError => new StreamError(StreamErrorCode.UNAVAILABLE, message);

/**
 * The server broke the protocol (a frame or `data:` that is not JSON, an unknown message type, a
 * message past `maxMessageBytes`): `INTERNAL` (an unexpected server failure, retried with backoff),
 * marked by `details.protocolViolation`. Repeated ones back off further (README "Client").
 */
export const violation = (what: string): StreamError =>
  new StreamError(StreamErrorCode.INTERNAL, `Protocol violation: ${what}`, { protocolViolation: true });

/** Whether `error` is a {@link violation}. */
export const isViolation = (error: StreamError): boolean =>
  (error.details as { protocolViolation?: unknown } | undefined)?.protocolViolation === true;

/** JSON from the server; anything else is a {@link violation}. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw violation(`${what} is not JSON`);
  }
}
