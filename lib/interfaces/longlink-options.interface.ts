import type { TransportName } from './stream-call.interface.js';

/**
 * What happens when a subscriber reads slower than its stream emits and its queue is full.
 * - `disconnect` (default): the subscription ends with `RESOURCE_EXHAUSTED` (sent if it can
 *   still be written, else the connection is closed);
 * - `drop-oldest`: the oldest queued events are dropped to make room;
 * - `latest`: the queue is cleared and only the newest event is kept (conflation).
 */
export type SlowConsumerPolicy = 'disconnect' | 'drop-oldest' | 'latest';

/** Per-subscriber flow control. */
export interface FlowControlOptions {
  /** Bytes that may wait for a slow subscriber before the policy applies. Default 1 MiB. */
  maxQueueBytes?: number;
  /** Default `disconnect`. */
  policy?: SlowConsumerPolicy;
}

/** Server-Sent Events transport options. */
export interface SseOptions {
  /** Serve streams over SSE. Default `true` (needs an HTTP adapter). */
  enabled?: boolean;
  /** Interval of `:` comment lines that keep proxies from closing idle streams. Default 15000; 0 disables. */
  heartbeatMs?: number;
  /** `retry:` hint sent first: how long browsers wait before reconnecting. Default 2000. */
  retryMs?: number;
  /**
   * How long the response head may wait for the stream's first event or end, so an empty
   * stream still answers 204 and an early error a real status. Default 50.
   */
  commitDelayMs?: number;
  /** After a slow-consumer disconnect, how long the error event may take to flush before the socket is destroyed. Default 1000. */
  disconnectGraceMs?: number;
}

/**
 * Options of `LonglinkModule.forRoot()` / `forRootAsync()`. Validated at startup.
 *
 * @publicApi
 */
export interface LonglinkModuleOptions {
  /** Flow control defaults for every stream (a `@Stream` may override them). */
  flowControl?: FlowControlOptions;
  /** SSE transport. */
  sse?: SseOptions;
}

/** Options of one `@Stream()`. */
export interface StreamOptions {
  /** Transports that serve this stream. Default: all enabled ones. */
  transports?: TransportName[];
  /** Overrides the module's flow control for this stream. */
  flowControl?: FlowControlOptions;
}

/** Options after defaults were applied. */
export interface ResolvedLonglinkOptions {
  flowControl: Required<FlowControlOptions>;
  sse: Required<SseOptions>;
}
