import { Observable, type Subscriber } from 'rxjs';
import { StreamException } from '../../errors/stream-exception.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { INPUT_MESSAGE_ID } from '../../protocol/input.protocol.js';
import type { InputAnswer, InputProcessor, StreamInputInit, StreamInputMessage } from './subscription-input.types.js';
import { holdOpenUntil } from '../open-barrier.js';

export type { InputAnswer, InputProcessor, StreamInputInit, StreamInputMessage } from './subscription-input.types.js';

interface Pending {
  id: string;
  data: unknown;
  /** The answer of the same id still in flight when this one came. */
  original: Promise<InputAnswer> | undefined;
  resolve(answer: InputAnswer): void;
  reject(error: StreamException): void;
}

const END = Symbol('end');
type Item = Pending | typeof END;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return !!value && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * The client messages of one subscription (PROTOCOL.md §7): a bounded queue that hands them
 * to the handler's input Observable one at a time, in order, through the parameter's pipes,
 * answering each with an ack (after its id is recorded for deduplication) or a refusal.
 * Transports call {@link offer}, {@link end} and {@link close}; they pause reading while
 * {@link full} and resume on {@link onRoom}.
 */
export class SubscriptionInput {
  private readonly queue: Item[] = [];
  private readonly inFlight = new Map<string, Promise<InputAnswer>>();
  private subscriber: Subscriber<unknown> | undefined;
  private processor: InputProcessor = (data) => data;
  private envelope = false;
  private busy = false;
  private ended = false;
  private closed = false;
  private detached = false;
  private acks: Promise<unknown> = Promise.resolve();
  private roomListener: (() => void) | undefined;
  /** Settles once other instances can address this input by its channel. */
  private routable: Promise<void> | undefined;

  constructor(private readonly init: StreamInputInit) {}

  /** The dedup scope. */
  get scope(): string {
    return this.init.scope;
  }

  /** The largest message this input takes, in bytes as received. */
  get maxMessageBytes(): number {
    return this.init.maxMessageBytes;
  }

  /**
   * The subscription is reported open (SSE head) only once `ready` settles, when the handler
   * subscribes its input while it is being opened: a client that saw it open can address the
   * channel from any instance. `ready` never rejects.
   */
  openWhenRoutable(ready: Promise<void> | undefined): void {
    this.routable = ready;
  }

  /** The queue holds `maxQueue` messages: a transport stops reading until {@link onRoom}. */
  get full(): boolean {
    return this.queue.length >= this.init.maxQueue;
  }

  /** Called when the queue goes from full to having room (one listener: the transport's). */
  onRoom(listener: (() => void) | undefined): void {
    this.roomListener = listener;
  }

  /**
   * Offers one client message. Never throws: resolves with the ack, rejects with the
   * refusal (a {@link StreamException}). `bytes`: its size as received. `overflow`: the
   * transport stopped reading when the queue filled and this message was already read (its
   * own bound, e.g. one socket read), so it is queued past `maxQueue` instead of refused.
   */
  offer(id: unknown, data: unknown, bytes: number, overflow = false): Promise<InputAnswer> {
    if (typeof id !== 'string' || !INPUT_MESSAGE_ID.test(id)) {
      return refuse(StreamErrorCode.BAD_REQUEST, 'Message id must be 1 to 128 printable ASCII characters');
    }
    if (this.closed) return refuse(StreamErrorCode.NOT_FOUND, 'The subscription has ended');
    if (this.ended) return refuse(StreamErrorCode.BAD_REQUEST, 'The input has already ended');
    if (this.detached) return refuse(StreamErrorCode.BAD_REQUEST, 'The stream no longer reads client messages');
    if (bytes > this.init.maxMessageBytes) {
      return refuse(StreamErrorCode.BAD_REQUEST, `Message exceeds ${this.init.maxMessageBytes} bytes`, {
        limitBytes: this.init.maxMessageBytes,
      });
    }
    const wait = this.init.rate?.take() ?? 0;
    if (wait > 0) return refuse(StreamErrorCode.RESOURCE_EXHAUSTED, 'Too many messages', { retryAfterMs: wait });
    if (this.full && !overflow) {
      return refuse(StreamErrorCode.RESOURCE_EXHAUSTED, `Input queue is full (${this.init.maxQueue} messages)`, { retryAfterMs: 100 });
    }
    // A resend of a message still in flight is answered as the original was, in its own turn.
    const original = this.inFlight.get(id);
    const answer = new Promise<InputAnswer>((resolve, reject) => this.queue.push({ id, data, original, resolve, reject }));
    if (!original) {
      this.inFlight.set(id, answer);
      const forget = () => void this.inFlight.delete(id);
      answer.then(forget, forget);
    }
    void this.pump();
    return answer;
  }

  /** The client's half-close: the input completes after the messages before it. */
  end(): void {
    if (this.ended || this.closed) return;
    this.ended = true;
    this.queue.push(END);
    void this.pump();
  }

  /** The subscription ended: refuses what waits and completes the input. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const gone = new StreamException(StreamErrorCode.NOT_FOUND, 'The subscription has ended');
    for (const item of this.queue.splice(0)) if (item !== END) item.reject(gone);
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    subscriber?.complete();
    this.room();
  }

  /** The queue was emptied: a transport that paused reading may go on. */
  private room(): void {
    const listener = this.roomListener;
    this.roomListener = undefined;
    listener?.();
  }

  /**
   * The handler's input: one subscriber at a time (`share()` it to read it twice). Messages
   * wait in the queue until it is subscribed; once it is unsubscribed, further messages are
   * refused.
   */
  observable(processor: InputProcessor | undefined, envelope: boolean): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      if (this.subscriber || this.detached) {
        subscriber.error(new TypeError('A stream input can be subscribed once; share() it to read it twice'));
        return;
      }
      if (processor) this.processor = processor;
      this.envelope = envelope;
      if (this.closed) {
        subscriber.complete();
        return;
      }
      this.subscriber = subscriber;
      if (this.routable) holdOpenUntil(this.routable);
      void this.pump();
      return () => {
        if (this.subscriber !== subscriber) return;
        this.subscriber = undefined;
        this.detached = true;
        const gone = new StreamException(StreamErrorCode.BAD_REQUEST, 'The stream no longer reads client messages');
        for (const item of this.queue.splice(0)) if (item !== END) item.reject(gone);
        this.room();
      };
    });
  }

  private take(): Item | undefined {
    const wasFull = this.full;
    const item = this.queue.shift();
    if (wasFull && !this.full) this.roomListener?.();
    return item;
  }

  /** Hands messages over one at a time; acks follow in order. */
  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.subscriber && this.queue.length > 0) {
        const item = this.take()!;
        if (item === END) {
          const subscriber = this.subscriber;
          this.subscriber = undefined;
          this.detached = true;
          subscriber.complete();
          return;
        }
        await this.handOver(item);
      }
    } finally {
      this.busy = false;
    }
  }

  private async handOver(item: Pending): Promise<void> {
    const { scope, dedup } = this.init;
    if (item.original) {
      const original = item.original;
      this.acks = this.acks.then(() =>
        original.then(
          () => item.resolve({ duplicate: true }),
          (error: StreamException) => item.reject(error),
        ),
      );
      return;
    }
    let value: unknown;
    try {
      let seen = dedup.seen(scope, item.id);
      if (isThenable(seen)) seen = await seen;
      if (seen) return this.settle(item, undefined, { duplicate: true });
      value = this.processor(item.data);
      if (isThenable(value)) value = await value;
    } catch (error) {
      return this.settle(item, undefined, undefined, this.init.normalize(error));
    }
    const subscriber = this.subscriber;
    if (!subscriber) {
      const error = new StreamException(StreamErrorCode.NOT_FOUND, 'The subscription has ended');
      return this.settle(item, undefined, undefined, error);
    }
    let work: PromiseLike<unknown>[] | undefined;
    if (this.envelope) {
      let emitting = true;
      const message: StreamInputMessage = {
        id: item.id,
        key: `${this.init.keyPrefix}:${item.id}`,
        data: value,
        ackAfter: (p) => {
          if (!emitting) throw new TypeError('ackAfter() must be called while the message is emitted');
          (work ??= []).push(p);
        },
      };
      subscriber.next(message);
      emitting = false;
    } else {
      subscriber.next(value);
    }
    if (work) {
      try {
        await Promise.all(work);
      } catch (error) {
        return this.settle(item, undefined, undefined, this.init.normalize(error));
      }
    }
    let recorded: unknown;
    try {
      recorded = dedup.record(scope, item.id);
    } catch {
      recorded = undefined; // handed over: ack it; only a lost ack's resend could repeat it
    }
    this.settle(item, recorded, { duplicate: false });
  }

  /** Answers in order: an answer waits for the answers (and records) before it. */
  private settle(item: Pending, recorded: unknown, answer?: InputAnswer, error?: StreamException): void {
    const previous = this.acks;
    const ready = isThenable(recorded) ? Promise.resolve(recorded).catch(() => undefined) : undefined;
    this.acks = (ready ? Promise.all([previous, ready]) : previous).then(() => {
      if (error) item.reject(error);
      else item.resolve(answer!);
    });
  }
}

function refuse(code: StreamErrorCode, message: string, details?: Record<string, unknown>): Promise<never> {
  return Promise.reject(new StreamException(code, message, details));
}
