import type { StreamErrorCode } from '../../errors/stream-error-code.js';
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
  /** Too many malformed messages (`ws.maxInvalidMessages`). */
  TOO_MANY_INVALID_MESSAGES: 4400,
  /** The connection's send buffer passed its limit under the `disconnect` policy (`RESOURCE_EXHAUSTED`). */
  SLOW_CONSUMER: 4429,
} as const;
