import { StreamErrorCode } from '../../errors/stream-error-code.js';
import { HTTP_STATUS_BY_CODE } from '../../errors/http.error-map.js';

/**
 * The WebSocket transport's error mapping. Every code travels verbatim in an `error` message
 * (`{"type":"error","id":...,"error":{"code","message"}}`); the connection stays open.
 * Refusals before the socket exists (origin, connection guard, shutdown) are plain HTTP
 * responses with the same statuses as SSE; a few conditions close the connection with the
 * codes below. See PROTOCOL.md §4.3 and §4.6.
 */
export const WS_UPGRADE_STATUS_BY_CODE: Readonly<Record<StreamErrorCode, number>> = HTTP_STATUS_BY_CODE;

/** Close codes the WebSocket transport uses. */
export const WsCloseCode = {
  /** The server is shutting down; reconnect (elsewhere). Sent after `UNAVAILABLE` errors. */
  GOING_AWAY: 1001,
  /** A frame larger than `ws.maxPayloadBytes` (sent by the `ws` library). */
  MESSAGE_TOO_BIG: 1009,
  /** The connection guard, run after the init message, refused: `UNAUTHENTICATED`. */
  UNAUTHENTICATED: 4401,
  /** The connection guard, run after the init message, refused with any other code. */
  FORBIDDEN: 4403,
  /** No init message within `ws.initTimeoutMs` (when `ws.requireInit`). */
  INIT_TIMEOUT: 4408,
  /** The connection guard failed unexpectedly after the init message. */
  INTERNAL_ERROR: 1011,
  /** Too many malformed messages (`ws.maxInvalidMessages`). */
  TOO_MANY_INVALID_MESSAGES: 4400,
  /** The connection's send buffer passed its limit under the `disconnect` policy (`RESOURCE_EXHAUSTED`). */
  SLOW_CONSUMER: 4429,
} as const;

/** The close code for a connection guard's refusal after the init message (PROTOCOL.md §4.6). */
export function wsInitRefusalCloseCode(code: StreamErrorCode): number {
  if (code === StreamErrorCode.UNAUTHENTICATED) return WsCloseCode.UNAUTHENTICATED;
  if (code === StreamErrorCode.INTERNAL) return WsCloseCode.INTERNAL_ERROR;
  return WsCloseCode.FORBIDDEN;
}
