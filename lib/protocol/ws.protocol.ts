import { StreamErrorCode } from './stream-error-code.js';

/** The message types a client sends (PROTOCOL.md §4.2); any other is refused with `BAD_REQUEST`. */
export const WS_CLIENT_MESSAGE_TYPES = ['subscribe', 'unsubscribe', 'ping', 'init', 'input', 'input_end'] as const;

/** The message types a server sends (PROTOCOL.md §4.2); a client treats any other as a protocol violation. */
export const WS_SERVER_MESSAGE_TYPES = ['next', 'reset', 'complete', 'error', 'pong', 'init_ack', 'subscribed', 'input_ack', 'input_error'] as const;

/** A client message type. */
export type WsClientMessageType = (typeof WS_CLIENT_MESSAGE_TYPES)[number];
/** A server message type. */
export type WsServerMessageType = (typeof WS_SERVER_MESSAGE_TYPES)[number];

/**
 * Close codes of the WebSocket transport (PROTOCOL.md §4.6).
 *
 * @publicApi
 */
export const WsCloseCode = {
  /** Normal closure, by the client (or the server once the client is done). */
  NORMAL: 1000,
  /** The server is shutting down; reconnect (elsewhere). Sent after `UNAVAILABLE` errors. */
  GOING_AWAY: 1001,
  /** A frame larger than `ws.maxPayloadBytes` (sent by the `ws` library). */
  MESSAGE_TOO_BIG: 1009,
  /** The connection guard failed unexpectedly after the init message. */
  INTERNAL_ERROR: 1011,
  /** Too many malformed messages (`ws.maxInvalidMessages`). */
  TOO_MANY_INVALID_MESSAGES: 4400,
  /** The connection guard, run after the init message, refused: `UNAUTHENTICATED`. */
  UNAUTHENTICATED: 4401,
  /** The connection guard, run after the init message, refused with any other code. */
  FORBIDDEN: 4403,
  /** No init message within `ws.initTimeoutMs` (when `ws.requireInit`). */
  INIT_TIMEOUT: 4408,
  /** The connection's send buffer passed its limit under the `disconnect` policy (`RESOURCE_EXHAUSTED`). */
  SLOW_CONSUMER: 4429,
  /** Sent by the client SDK when it drops a connection it found broken (ping unanswered, protocol violation). */
  CLIENT_DROPPED: 4000,
} as const;

/** The close code for a connection guard's refusal after the init message (PROTOCOL.md §4.6). */
export function wsInitRefusalCloseCode(code: StreamErrorCode): number {
  if (code === StreamErrorCode.UNAUTHENTICATED) return WsCloseCode.UNAUTHENTICATED;
  if (code === StreamErrorCode.INTERNAL) return WsCloseCode.INTERNAL_ERROR;
  return WsCloseCode.FORBIDDEN;
}

/** Close codes that end a connection's subscriptions with a code of their own; the rest are `UNAVAILABLE`. */
const CODE_BY_CLOSE: Readonly<Record<number, StreamErrorCode>> = {
  [WsCloseCode.UNAUTHENTICATED]: StreamErrorCode.UNAUTHENTICATED,
  [WsCloseCode.FORBIDDEN]: StreamErrorCode.PERMISSION_DENIED,
  [WsCloseCode.TOO_MANY_INVALID_MESSAGES]: StreamErrorCode.BAD_REQUEST,
  [WsCloseCode.MESSAGE_TOO_BIG]: StreamErrorCode.BAD_REQUEST,
  [WsCloseCode.SLOW_CONSUMER]: StreamErrorCode.RESOURCE_EXHAUSTED,
  [WsCloseCode.INIT_TIMEOUT]: StreamErrorCode.DEADLINE_EXCEEDED,
};

/**
 * The code a client ends a connection's subscriptions with when the server closes it with
 * `closeCode`: the refusals above, else `UNAVAILABLE` (shutdown, an unexpected guard failure, a
 * dropped connection: worth reconnecting).
 */
export function codeOfWsClose(closeCode: number): StreamErrorCode {
  return CODE_BY_CLOSE[closeCode] ?? StreamErrorCode.UNAVAILABLE;
}

/** The first close code an application may use (RFC 6455 §7.4.2): codes below come from the WebSocket layer itself. */
export const WS_APPLICATION_CLOSE_CODES_START = 4000;
