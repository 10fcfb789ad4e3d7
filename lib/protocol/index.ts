/**
 * The wire contract of PROTOCOL.md, shared by the server and the client: error codes and which
 * are transient, each transport's table, message types, close codes, header and trailer names.
 * Imports nothing (no Nest, no Node built-ins): it is part of the browser client bundle.
 */
export { StreamErrorCode, STREAM_ERROR_CODES, TRANSIENT_CODES, isStreamErrorCode, isTransientCode } from './stream-error-code.js';
export { HTTP_STATUS_BY_CODE, HttpHeader, SseEventName, SseQuery, codeOfHttpStatus } from './http.protocol.js';
export {
  GRPC_ERROR_CODE_TRAILER,
  GRPC_ERROR_DETAILS_TRAILER,
  GRPC_PARAMS_METADATA,
  GRPC_RETRY_AFTER_TRAILER,
  GRPC_STATUS_BY_CODE,
  GrpcStatus,
  codeOfGrpcStatus,
} from './grpc.protocol.js';
export {
  WS_APPLICATION_CLOSE_CODES_START,
  WS_CLIENT_MESSAGE_TYPES,
  WS_SERVER_MESSAGE_TYPES,
  WsCloseCode,
  codeOfWsClose,
  wsInitRefusalCloseCode,
  type WsClientMessageType,
  type WsServerMessageType,
} from './ws.protocol.js';
export type { TransportName } from './transport-name.js';
