/** Metadata key written by `@Stream()` on a handler method. */
export const STREAM_METADATA = 'longlink:stream';
/** Metadata key of the handler's longlink parameter decorators. */
export const STREAM_ARGS_METADATA = 'longlink:args';
/** The one logger context of every log line of the module (no secrets, per-connection events at debug only). */
export const LONGLINK_LOGGER_CONTEXT = 'Longlink';
/** The execution context type of a stream call: `context.getType() === 'longlink'`. */
export const LONGLINK_CONTEXT_TYPE = 'longlink';

/** 1 MiB: default bytes queued per slow subscriber. */
export const DEFAULT_MAX_QUEUE_BYTES = 1024 * 1024;
export const DEFAULT_SSE_HEARTBEAT_MS = 15_000;
export const DEFAULT_SSE_RETRY_MS = 2_000;
export const DEFAULT_SSE_COMMIT_DELAY_MS = 50;
export const DEFAULT_DISCONNECT_GRACE_MS = 1_000;
/** Default lifetime of a stream ticket. */
export const DEFAULT_TICKET_TTL_MS = 30_000;
/** Default time a POST stream's whole body may take to arrive. */
export const DEFAULT_SSE_BODY_TIMEOUT_MS = 10_000;
/** Default largest body of a POST stream. */
export const DEFAULT_SSE_MAX_BODY_BYTES = 64 * 1024;
/** Window over which clients' reconnect delays are spread at shutdown. */
export const DEFAULT_SHUTDOWN_SPREAD_MS = 5_000;
/** How long shutdown lets last messages flush before cutting connections. */
export const DEFAULT_SHUTDOWN_DRAIN_MS = 3_000;
/** An SSE response whose socket has not drained for this long while data waits is cut. */
export const DEFAULT_SSE_STALL_TIMEOUT_MS = 30_000;
/** TCP keepalive idle time on SSE sockets. */
export const DEFAULT_SSE_TCP_KEEPALIVE_MS = 30_000;
/** Longest stream name: names past it are refused by every transport (and by `@Stream()`). */
export const MAX_STREAM_NAME_LENGTH = 512;
/** Default largest gRPC request message (grpc-js' own default is 4 MiB). */
export const DEFAULT_GRPC_MAX_RECEIVE_MESSAGE_LENGTH = 256 * 1024;
/** Default gRPC HTTP/2 keepalive: a ping after this long without frames from the peer... */
export const DEFAULT_GRPC_KEEPALIVE_TIME_MS = 30_000;
/** ...and the connection is dropped if the ping is not answered within this. */
export const DEFAULT_GRPC_KEEPALIVE_TIMEOUT_MS = 10_000;
/**
 * Default deepest nesting of stream params (and WebSocket init payloads) on every transport
 * (`maxParamsDepth`): the params object is level 1, each object or array inside it one more.
 * As Express's `json()`.
 */
export const DEFAULT_MAX_PARAMS_DEPTH = 64;
/** Highest `maxParamsDepth` accepted: deeper values would reach recursive code's stack limits (class-transformer's at ~1,500). */
export const MAX_PARAMS_DEPTH_OPTION = 512;
/** Longest `Last-Event-ID` accepted. */
export const MAX_LAST_EVENT_ID_LENGTH = 1024;
export const DEFAULT_WS_MAX_PAYLOAD_BYTES = 64 * 1024;
export const DEFAULT_WS_MAX_SUBSCRIPTIONS = 100;
export const DEFAULT_WS_MAX_INVALID_MESSAGES = 10;
export const DEFAULT_WS_HEARTBEAT_MS = 15_000;
export const DEFAULT_WS_HEARTBEAT_TIMEOUT_MS = 10_000;
export const DEFAULT_WS_INIT_TIMEOUT_MS = 10_000;
/** Longest WebSocket subscription id. */
export const MAX_WS_SUBSCRIPTION_ID_LENGTH = 128;
