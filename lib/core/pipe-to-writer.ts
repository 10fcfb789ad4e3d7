import { Logger } from '@nestjs/common';
import { LONGLINK_LOGGER_CONTEXT } from '../longlink.constants.js';
import type { Observable, Subscription } from 'rxjs';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException, toStreamException } from '../errors/stream-exception.js';
import type { FlowControlOptions } from '../interfaces/longlink-options.interface.js';
import { toStreamEvent, type StreamEvent } from '../interfaces/stream-event.interface.js';
import type { StreamStats } from '../metrics/longlink-metrics.js';
import { FRAME_OVERHEAD_BYTES, type StreamWriter } from './stream-writer.interface.js';

const logger = new Logger(LONGLINK_LOGGER_CONTEXT);

/**
 * A running subscription: one upstream Observable feeding one writer.
 *
 * @publicApi
 */
export interface StreamHandle {
  /** Bytes waiting in this subscriber's queue now. */
  readonly queuedBytes: number;
  /** Highest `queuedBytes` seen. */
  readonly maxQueuedBytes: number;
  /** Events dropped by the `drop-oldest` / `latest` policies. */
  readonly droppedEvents: number;
  /** Id of the last event handed to the transport (the subscription's resume point), if any had one. */
  readonly lastEventId: string | undefined;
  /** Whether the subscription has ended. */
  readonly closed: boolean;
  /** The error it ended with (also a refusal, a slow-consumer cut or a shutdown), if any. */
  readonly endError: StreamException | undefined;
  /** Ends the subscription from the server side: tears the upstream down and ends the writer (with `error`, if given). */
  close(error?: StreamException): void;
}

/**
 * Bytes that several subscriptions on one connection may queue together (e.g. all the
 * subscriptions of one WebSocket). A subscription whose own queue is empty may still queue
 * one event past it, so none starves.
 */
export class QueueBudget {
  used = 0;
  constructor(readonly limit: number) {}
}

/**
 * The one backpressure loop. Subscribes `source` (events, or plain values that become
 * events) and writes each event to `writer`;
 * while the writer reports a full buffer, events wait in a queue bounded by
 * `flow.maxQueueBytes`, past which `flow.policy` applies. The upstream is unsubscribed as
 * soon as the peer goes, the stream ends, or the server closes it. `onFinish` runs once.
 */
export function pipeToWriter<F>(
  source: Observable<unknown>,
  writer: StreamWriter<F>,
  flow: Required<FlowControlOptions>,
  onFinish: (handle: StreamHandle) => void = () => {},
  budget?: QueueBudget,
  stats?: StreamStats,
  normalize: (error: unknown) => StreamException = toStreamException,
): StreamHandle {
  return new Pump(source, writer, flow, onFinish, budget, stats, normalize);
}

/**
 * Shared by every pump whose queue was never used: most subscriptions never queue, so their
 * two queue arrays are allocated on first use only. Never written to (see `enqueue`).
 */
const NO_FRAMES: never[] = [];

/** The pump is its source's observer itself (no observer literal, no closures per subscription). */
class Pump<F> implements StreamHandle {
  queuedBytes = 0;
  maxQueuedBytes = 0;
  droppedEvents = 0;
  lastEventId: string | undefined = undefined;
  closed = false;
  endError: StreamException | undefined = undefined;
  private queue: F[] = NO_FRAMES;
  private sizes: number[] = NO_FRAMES;
  /** Ids of the queued events (parallel to `queue`), so the resume point follows what was written. */
  private ids: (string | undefined)[] = NO_FRAMES;
  private head = 0;
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
    if (!this.blocked && this.head === this.queue.length) {
      if (!this.write(frame)) this.blocked = true;
      if (event.id !== undefined) this.lastEventId = event.id;
      const stats = this.stats;
      if (stats !== undefined) {
        stats.events++;
        stats.bytes += Math.max(0, size - (this.writer.frameOverheadBytes ?? FRAME_OVERHEAD_BYTES));
      }
      return;
    }
    const dropped = this.droppedEvents;
    if (this.overLimit(size) && this.head < this.queue.length) {
      switch (this.flow.policy) {
        case 'disconnect':
          this.overflow();
          return;
        case 'drop-oldest':
          while (this.head < this.queue.length && this.overLimit(size)) this.shift();
          break;
        case 'latest':
          while (this.head < this.queue.length) this.shift();
          break;
      }
    }
    if (this.stats !== undefined) this.stats.dropped += this.droppedEvents - dropped;
    if (this.queue === NO_FRAMES) {
      this.queue = [];
      this.sizes = [];
      this.ids = [];
    }
    this.queue.push(frame);
    this.sizes.push(size);
    this.ids.push(event.id);
    this.queuedBytes += size;
    if (this.budget) this.budget.used += size;
    if (this.queuedBytes > this.maxQueuedBytes) this.maxQueuedBytes = this.queuedBytes;
  }

  /** Whether queuing `size` more bytes would pass this stream's or the connection's limit. */
  private overLimit(size: number): boolean {
    return (
      this.queuedBytes + size > this.flow.maxQueueBytes ||
      (this.budget !== undefined && this.budget.used + size > this.budget.limit)
    );
  }

  /** Removes the oldest queued frame (counted as dropped). */
  private shift(): F {
    const frame = this.queue[this.head] as F;
    const size = this.sizes[this.head] as number;
    this.queuedBytes -= size;
    if (this.budget) this.budget.used -= size;
    this.queue[this.head] = undefined as F;
    this.head++;
    this.droppedEvents++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.ids.splice(0, this.head);
      this.head = 0;
    }
    return frame;
  }

  private flush(): void {
    if (this.closed || !this.blocked) return;
    this.blocked = false;
    while (this.head < this.queue.length) {
      const id = this.ids[this.head];
      const size = this.sizes[this.head] as number;
      const frame = this.shift();
      this.droppedEvents--; // shift() counts drops; this one is delivered
      const written = this.write(frame);
      if (id !== undefined) this.lastEventId = id;
      const stats = this.stats;
      if (stats !== undefined) {
        stats.events++;
        stats.bytes += Math.max(0, size - (this.writer.frameOverheadBytes ?? FRAME_OVERHEAD_BYTES));
      }
      if (!written) {
        this.blocked = true;
        return;
      }
    }
    if (this.pendingEnd) this.end(this.pendingEnd.error);
  }

  private onTerminal(error: StreamException | undefined): void {
    if (this.closed || this.pendingEnd) return;
    if (this.blocked || this.head < this.queue.length) {
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
    const error = new StreamException(
      StreamErrorCode.RESOURCE_EXHAUSTED,
      `Subscriber too slow: more than ${this.flow.maxQueueBytes} bytes queued`,
    );
    this.endError = error;
    if (this.stats !== undefined) this.stats.slowDisconnects++;
    this.clearQueue();
    this.finish();
    const writer = this.writer;
    this.guard(() => writer.overflow(error));
  }

  private clearQueue(): void {
    if (this.budget) this.budget.used -= this.queuedBytes;
    this.queue.length = 0;
    this.sizes.length = 0;
    this.ids.length = 0;
    this.head = 0;
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
