import type { StreamException } from '../../errors/stream-exception.js';
import type { InputDedupStore } from './input-dedup.store.js';
import type { InputRateLimiter } from './input-rate.limiter.js';

/** The answer to an accepted client message. */
export interface InputAnswer {
  /** The id was acked before (within the dedup window): the message was not handed over again. */
  duplicate: boolean;
}

/** A client message as `@StreamInput({ envelope: true })` emits it. */
export interface StreamInputMessage<T = unknown> {
  /** The client's message id (PROTOCOL.md §7.1): use it to make an effect idempotent. */
  id: string;
  /**
   * The id qualified by its channel (or, without one, by its subscription): unique across
   * clients, stable across their resends. Use it as `hub.publish(..., { idempotencyKey })`.
   */
  key: string;
  data: T;
  /**
   * Delays this message's ack until `work` settles, and the next message until then too
   * (backpressure for handlers with asynchronous effects). Call it while the message is being
   * emitted (e.g. in `tap()`). If `work` rejects, the message is refused with that error
   * instead of acked (and its id is not remembered, so the client may send it again).
   */
  ackAfter(work: PromiseLike<unknown>): void;
}

/** Runs the input parameter's pipes on one message's data. */
export type InputProcessor = (data: unknown) => unknown;

/** What one subscription's input needs. */
export interface StreamInputInit {
  /** Dedup scope: the stream and the channel (or this subscription). */
  scope: string;
  /** What qualifies message ids into {@link StreamInputMessage.key}: the channel, or a random id of this subscription. */
  keyPrefix: string;
  dedup: InputDedupStore;
  maxQueue: number;
  maxMessageBytes: number;
  /** Turns a pipe's or store's error into the refusal sent back. */
  normalize(error: unknown): StreamException;
  rate?: InputRateLimiter;
}
