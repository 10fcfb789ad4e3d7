import type { StreamException } from '../errors/stream-exception.js';
import type { StreamEvent } from '../interfaces/stream-event.interface.js';

/**
 * A transport's sink for one subscription. The core's one backpressure loop
 * ({@link pipeToWriter}) drives every writer; a writer only frames and writes.
 *
 * @typeParam F The transport's frame (bytes for SSE/WS, a message for gRPC).
 */
export interface StreamWriter<F = unknown> {
  /** Frames one event. May cache per event, so a broadcast is framed once. */
  frame(event: StreamEvent): F;
  /** Bytes a queued frame takes (payload plus a fixed overhead per frame), for queue accounting. */
  sizeOf(frame: F): number;
  /** The fixed overhead `sizeOf` adds per frame (default {@link FRAME_OVERHEAD_BYTES}): metrics count bytes without it. */
  readonly frameOverheadBytes?: number;
  /** Writes a frame; `false` means the transport's buffer is full: wait for drain. */
  write(frame: F): boolean;
  /** Sets the one function called whenever the transport can take more after `write()` returned `false`. */
  onDrain(fn: () => void): void;
  /** Sets the one function called when the peer goes away (the loop then tears the upstream down). */
  onClose(fn: () => void): void;
  /**
   * Called once when the pipeline has accepted the call: guards, interceptors and pipes
   * passed and the handler's stream is subscribed. Not called when the call is refused.
   * SSE starts its commit delay here, so a slow guard still decides the HTTP status.
   */
  opened?(): void;
  /** Ends the subscription: normally (no error) or with an error. */
  end(error?: StreamException): void;
  /** Ends the subscription because the peer cannot keep up (queue over its limit). */
  overflow(error: StreamException): void;
}

/** What a queued frame costs beyond its payload bytes (object headers, queue slots). */
export const FRAME_OVERHEAD_BYTES = 64;
