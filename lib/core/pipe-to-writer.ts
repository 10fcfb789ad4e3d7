import { Logger } from '@nestjs/common';
import { LONGLINK_LOGGER_CONTEXT } from '../longlink.constants.js';
import type { Observable, Subscription } from 'rxjs';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException, toStreamException } from '../errors/stream-exception.js';
import type { FlowControlOptions } from '../interfaces/longlink-options.interface.js';
import { toStreamEvent, type StreamEvent } from '../interfaces/stream-event.interface.js';
import type { StreamStats } from '../metrics/longlink-metrics.js';
import { FrameQueue } from './frame-queue.js';
import type { QueueBudget, StreamHandle } from './stream-handle.js';
import { FRAME_OVERHEAD_BYTES, type StreamWriter } from './stream-writer.interface.js';

const logger = new Logger(LONGLINK_LOGGER_CONTEXT);

/** Also named from here, where the package index and the WebSocket transport import them. */
export type { StreamHandle } from './stream-handle.js';
export { QueueBudget } from './stream-handle.js';

/** How {@link pipeToWriter} drives one subscription. */
export interface PipeOptions {
  /** Queue bound and slow-consumer policy. */
  flow: Required<FlowControlOptions>;
  /** Runs once when the subscription ends, whatever ended it. */
  onFinish?: (handle: StreamHandle) => void;
  /** Bytes shared with the other subscriptions of the same connection. */
  budget?: QueueBudget;
  /** Metrics counters of this stream on this transport; absent when metrics are off. */
  stats?: StreamStats;
  /** Turns what the source failed with into the error sent to the client (default: {@link toStreamException}). */
  normalize?: (error: unknown) => StreamException;
}

const NO_FINISH = (): void => {};

/**
 * The one backpressure loop. Subscribes `source` (events, or plain values that become
 * events) and writes each event to `writer`;
 * while the writer reports a full buffer, events wait in a queue bounded by
 * `flow.maxQueueBytes`, past which `flow.policy` applies. The upstream is unsubscribed as
 * soon as the peer goes, the stream ends, or the server closes it. `onFinish` runs once.
 */
export function pipeToWriter<F>(source: Observable<unknown>, writer: StreamWriter<F>, options: PipeOptions): StreamHandle {
  return new Pump(source, writer, options.flow, options.onFinish ?? NO_FINISH, options.budget, options.stats, options.normalize ?? toStreamException);
}

/** The pump is its source's observer itself (no observer literal, no closures per subscription). */
class Pump<F> implements StreamHandle {
  queuedBytes = 0;
  maxQueuedBytes = 0;
  droppedEvents = 0;
  lastEventId: string | undefined = undefined;
  closed = false;
  endError: StreamException | undefined = undefined;
  /** Allocated on first use: most subscriptions never queue. */
  private queue: FrameQueue<F> | undefined;
  private blocked = false;
  private pendingEnd: { error?: StreamException } | undefined;
  private subscription: Subscription | undefined;

  constructor(
    source: Observable<unknown>,
    private readonly writer: StreamWriter<F>,
    private readonly flow: Required<FlowControlOptions>,
    private readonly onFinish: (handle: StreamHandle) => void,
    private readonly budget: QueueBudget | undefined,
    /** Metrics counters of this stream on this transport; `undefined` when metrics are off. */
    private readonly stats: StreamStats | undefined,
    private readonly normalize: (error: unknown) => StreamException,
  ) {
    writer.onDrain(() => this.flush());
    writer.onClose(() => this.finish());
    const subscription = source.subscribe(this);

    // The source may have ended (or the peer gone) during subscribe().
    if (this.closed) subscription.unsubscribe();
    else this.subscription = subscription;
  }

  /** Observer: a value from the source. */
  next(value: unknown): void {
    this.onEvent(value);
  }

  /** Observer: the source failed. */
  error(error: unknown): void {
    this.onTerminal(this.normalize(error));
  }

  /** Observer: the source completed. */
  complete(): void {
    this.onTerminal(undefined);
  }

  close(error?: StreamException): void {
    if (this.closed) return;
    this.endError = error;
    this.clearQueue();
    this.finish();
    this.guard(() => this.writer.end(error));
  }

  /** Writes one frame; a writer that throws ends the subscription instead of the process. */
  private write(frame: F): boolean {
    try {
      return this.writer.write(frame);
    } catch (error) {
      logger.error(`A stream writer failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      this.finish();
      return false;
    }
  }

  /** A writer that throws must not take the process down (this runs in rxjs callbacks). */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      logger.error(`A stream writer failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }

  private onEvent(value: unknown): void {
    if (this.closed || this.pendingEnd) return;
    let frame: F;
    let event: StreamEvent;
    try {
      event = toStreamEvent(value);
      frame = this.writer.frame(event);
    } catch (error) {
      logger.error(`Could not encode an event: ${error instanceof Error ? error.message : String(error)}`);
      this.onTerminal(toStreamException(error));
      return;
    }
    const size = this.writer.sizeOf(frame);
    const queue = this.queue;
    if (!this.blocked && (queue === undefined || queue.length === 0)) {
      if (!this.write(frame)) this.blocked = true;
      this.written(event.id, size);
      return;
    }
    const dropped = this.droppedEvents;
    if (queue !== undefined && queue.length > 0 && this.overLimit(size)) {
      switch (this.flow.policy) {
        case 'disconnect':
          this.overflow();
          return;
        case 'drop-oldest':
          while (queue.length > 0 && this.overLimit(size)) this.shift(queue);
          break;
        case 'latest':
          while (queue.length > 0) this.shift(queue);
          break;
      }
    }
    if (this.stats !== undefined) this.stats.dropped += this.droppedEvents - dropped;
    (queue ?? (this.queue = new FrameQueue<F>())).push(frame, size, event.id);
    this.queuedBytes += size;
    if (this.budget) this.budget.used += size;
    if (this.queuedBytes > this.maxQueuedBytes) this.maxQueuedBytes = this.queuedBytes;
  }

  /** A frame went to the writer: it is the resume point now, and it counts in the stream's metrics. */
  private written(id: string | undefined, size: number): void {
    if (id !== undefined) this.lastEventId = id;
    const stats = this.stats;
    if (stats !== undefined) {
      stats.events++;
      stats.bytes += Math.max(0, size - (this.writer.frameOverheadBytes ?? FRAME_OVERHEAD_BYTES));
    }
  }

  /** Whether queuing `size` more bytes would pass this stream's or the connection's limit. */
  private overLimit(size: number): boolean {
    return this.queuedBytes + size > this.flow.maxQueueBytes || (this.budget !== undefined && this.budget.used + size > this.budget.limit);
  }

  /** Drops the oldest queued frame (counted as dropped) and releases its bytes. */
  private shift(queue: FrameQueue<F>): void {
    const size = queue.headSize;
    this.queuedBytes -= size;
    if (this.budget) this.budget.used -= size;
    queue.shift();
    this.droppedEvents++;
  }

  private flush(): void {
    if (this.closed || !this.blocked) return;
    this.blocked = false;
    const queue = this.queue;
    while (queue !== undefined && queue.length > 0) {
      const id = queue.headId;
      const size = queue.headSize;
      this.queuedBytes -= size;
      if (this.budget) this.budget.used -= size;
      const frame = queue.shift();
      const accepted = this.write(frame);
      this.written(id, size);
      if (!accepted) {
        this.blocked = true;
        return;
      }
    }
    if (this.pendingEnd) this.end(this.pendingEnd.error);
  }

  private onTerminal(error: StreamException | undefined): void {
    if (this.closed || this.pendingEnd) return;
    if (this.blocked || (this.queue !== undefined && this.queue.length > 0)) {
      // Deliver what is queued first; the end follows the last drain.
      this.pendingEnd = { error };
      this.subscription?.unsubscribe();
      return;
    }
    this.end(error);
  }

  private end(error: StreamException | undefined): void {
    this.endError = error;
    this.finish();
    this.guard(() => this.writer.end(error));
  }

  private overflow(): void {
    const error = new StreamException(StreamErrorCode.RESOURCE_EXHAUSTED, `Subscriber too slow: more than ${this.flow.maxQueueBytes} bytes queued`);
    this.endError = error;
    if (this.stats !== undefined) this.stats.slowDisconnects++;
    this.clearQueue();
    this.finish();
    const writer = this.writer;
    this.guard(() => writer.overflow(error));
  }

  private clearQueue(): void {
    if (this.budget) this.budget.used -= this.queuedBytes;
    this.queue?.clear();
    this.queuedBytes = 0;
  }

  /** Marks the handle closed, tears the upstream down, reports once. */
  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearQueue();
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.onFinish(this);
  }
}
