import { StreamErrorCode } from '../../errors/stream-error-code.js';

/** Close codes the WebSocket transport uses. See PROTOCOL.md, "WebSocket: close codes". */
export const WsCloseCode = {
  /** The server is shutting down; reconnect (elsewhere). */
  GOING_AWAY: 1001,
  /** A frame larger than `ws.maxPayloadBytes` (sent by the `ws` library). */
  MESSAGE_TOO_BIG: 1009,
  /** Too many malformed messages (`ws.maxInvalidMessages`). */
  TOO_MANY_INVALID_MESSAGES: 4400,
  /** The connection's send buffer passed `ws.maxBufferedBytes` under the `disconnect` policy. */
  SLOW_CONSUMER: 4429,
} as const;

/**
 * The WebSocket transport's complete table. Every code travels as is in an `error`
 * message (`{"type":"error","id":...,"error":{"code","message"}}`); this table names the
 * codes that also close the connection, and with which close code. `null`: the
 * connection stays open.
 */
export const WS_CLOSE_CODE_BY_ERROR: Readonly<Record<StreamErrorCode, number | null>> = {
  [StreamErrorCode.BAD_REQUEST]: null, // 4400 only once ws.maxInvalidMessages is passed
  [StreamErrorCode.UNAUTHENTICATED]: null, // refused at the upgrade: HTTP 401
  [StreamErrorCode.PERMISSION_DENIED]: null, // refused at the upgrade: HTTP 403
  [StreamErrorCode.NOT_FOUND]: null,
  [StreamErrorCode.CONFLICT]: null,
  [StreamErrorCode.RESOURCE_EXHAUSTED]: null, // 4429 when the send buffer overflows
  [StreamErrorCode.DEADLINE_EXCEEDED]: null,
  [StreamErrorCode.INTERNAL]: null,
  [StreamErrorCode.UNAVAILABLE]: null, // 1001 at shutdown, after the error messages
};
