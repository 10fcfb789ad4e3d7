/** Metadata key written by `@Stream()` on a handler method. */
export const STREAM_METADATA = 'longlink:stream';
/** Metadata key of the handler's longlink parameter decorators. */
export const STREAM_ARGS_METADATA = 'longlink:args';
/** The one logger context of every log line of the module (no secrets, per-connection events at debug only). */
export const LONGLINK_LOGGER_CONTEXT = 'Longlink';
/** The execution context type of a stream call: `context.getType() === 'longlink'`. */
export const LONGLINK_CONTEXT_TYPE = 'longlink';
/** The default queue bound, public through the package index; every default lives in longlink.defaults.ts. */
export { DEFAULT_MAX_QUEUE_BYTES } from './longlink.defaults.js';

/** Longest stream name: names past it are refused by every transport (and by `@Stream()`). */
export const MAX_STREAM_NAME_LENGTH = 512;
/** Highest `maxParamsDepth` accepted: deeper values would reach recursive code's stack limits (class-transformer's at ~1,500). */
export const MAX_PARAMS_DEPTH_OPTION = 512;
/** Longest `Last-Event-ID` accepted. */
export const MAX_LAST_EVENT_ID_LENGTH = 1024;
/** Longest WebSocket subscription id. */
export const MAX_WS_SUBSCRIPTION_ID_LENGTH = 128;
