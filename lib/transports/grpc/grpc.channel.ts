import type { Logger } from '@nestjs/common';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { InputAnswer, SubscriptionInput } from '../../core/input/subscription-input.js';
import type { InputRateLimiter } from '../../core/input/input-rate.limiter.js';
import { assertSafeKey, jsonDepthExceeds, tooDeepError } from '../../core/params.js';
import { excerpt } from '../../errors/error-bounds.js';
import { StreamException, toStreamException } from '../../errors/stream-exception.js';
import { INPUT_MESSAGE_ID } from '../../protocol/input.protocol.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { requestSize } from './grpc.definitions.js';
import { grpcAckFrame } from './grpc.framing.js';
import { undecodableRequest, type DecodedChannelRequest } from './grpc.request-decoder.js';
import type { GrpcWriter } from './grpc.writer.js';

/** A bidi call as the transport's handlers get it. */
export type GrpcDuplexCall = ServerDuplexStream<unknown, unknown>;

/** The subscription a call's client messages go to. */
export interface GrpcInputTarget {
  readonly stream: string;
  /** `undefined`: the stream takes no client messages. */
  readonly input: SubscriptionInput | undefined;
  /** The stream's `input.maxMessageBytes` (data past it is refused unparsed). */
  readonly maxMessageBytes: number;
}

/** How a call's client messages are read. */
export interface GrpcCallInputOptions {
  /**
   * `generic`: `longlink.v1.Streams/Channel`, each message answered by an `InputAck`;
   * `typed`: a bound bidi method, each request message one client message (id: its position,
   * 1-based), no answers (a refused message is dropped and logged at debug level).
   */
  mode: 'generic' | 'typed';
  /** The module's `maxParamsDepth`, for the data's JSON. */
  maxDepth: number;
  logger: Logger;
}

/** Why reading is paused: the input's queue is full, acks wait for the client to read, or too many answers wait their turn. */
const QUEUE_FULL = 1;
const WRITE_BLOCKED = 2;
const ANSWERS_WAITING = 4;

/**
 * Answers that may wait behind a message still in the handler's pipes (refusals are immediate
 * but answered in order): past it the call is not read until they are out, so a client
 * flooding refused messages costs bounded memory.
 */
const MAX_WAITING_ANSWERS = 256;

/**
 * The client messages of one bidi call (PROTOCOL.md §7.3): offers each to the subscription's
 * input, answers with `ChannelResponse.ack` in the order the messages came (generic `Channel`),
 * turns the client's half-close into the input's, and stops reading the call while the input's
 * queue is full or acks back up (HTTP/2 flow control then pushes back on the client).
 *
 * On the generic `Channel`, the first message is handed to `subscribe` (which starts the
 * subscription, or refuses and ends the call); on a typed binding the subscription is started
 * before and {@link attach}ed.
 */
export class GrpcCallInput {
  private target: GrpcInputTarget | undefined;
  private paused = 0;
  private drainHooked = false;
  private answers: Promise<void> = Promise.resolve();
  private waitingAnswers = 0;
  private received = 0;

  constructor(
    private readonly call: GrpcDuplexCall,
    private readonly writer: GrpcWriter,
    private readonly options: GrpcCallInputOptions,
    private readonly subscribe?: (first: DecodedChannelRequest | object) => GrpcInputTarget | undefined,
  ) {
    call.on('data', (message: object) => this.onMessage(message));
    call.on('end', () => this.onHalfClose());
    call.on('error', () => undefined); // the call's status is the writer's business
  }

  /** The subscription the messages go to (typed bindings: started before the first message). */
  attach(target: GrpcInputTarget): void {
    this.target = target;
  }

  private onMessage(message: object): void {
    if (this.writer.done) return;
    const target = this.target;
    if (!target) {
      if (!this.subscribe) return;
      this.target = this.subscribe(message);
      return;
    }
    if (this.options.mode === 'typed') return this.onTyped(target, message);
    const refusal = undecodableRequest(message);
    if (refusal) return this.answer('', refusal);
    const request = message as DecodedChannelRequest;
    if (request.kind !== 'input') {
      return this.answer('', new StreamException(StreamErrorCode.BAD_REQUEST, 'Only input messages may follow the subscribe message'));
    }
    const { id, data } = request;
    const input = target.input;
    if (!input) {
      return this.answer(id, new StreamException(StreamErrorCode.BAD_REQUEST, `Stream ${excerpt(target.stream)} takes no client messages`));
    }
    // Past the size limit the data is not parsed: the input refuses it by its size.
    let value: unknown = null;
    if (data.length <= target.maxMessageBytes) {
      try {
        value = parseInputData(data, this.options.maxDepth);
      } catch (error) {
        return this.answer(id, toStreamException(error));
      }
    }
    this.answer(id, input.offer(id, value, data.length));
    if (input.full) this.pause(input);
  }

  private onTyped(target: GrpcInputTarget, message: object): void {
    const id = String(++this.received);
    const input = target.input;
    const refusal = undecodableRequest(message);
    if (refusal || !input)
      return this.dropped(target, id, refusal ?? new StreamException(StreamErrorCode.BAD_REQUEST, 'The stream takes no client messages'));
    input.offer(id, message, requestSize(message) ?? 0).catch((error: unknown) => this.dropped(target, id, toStreamException(error)));
    if (input.full) this.pause(input);
  }

  private dropped(target: GrpcInputTarget, id: string, error: StreamException): void {
    this.options.logger.debug?.(`grpc ${target.stream}: client message ${id} dropped (${error.code}: ${error.message})`);
  }

  private onHalfClose(): void {
    if (this.target) return this.target.input?.end();
    if (this.subscribe && !this.writer.done) this.subscribe({ kind: 'none' } satisfies DecodedChannelRequest);
  }

  /** Writes the answer to one message once the answers before it are out. */
  private answer(id: string, answer: Promise<InputAnswer> | StreamException): void {
    // An id that is not one is not echoed (it may be long): the answer's place names the message.
    const shown = INPUT_MESSAGE_ID.test(id) ? id : '';
    const settled = answer instanceof StreamException ? answer : answer.catch((error: unknown) => toStreamException(error));
    if (++this.waitingAnswers >= MAX_WAITING_ANSWERS) this.setPaused(this.paused | ANSWERS_WAITING);
    this.answers = this.answers
      .then(() => settled)
      .then((result) => this.writeAck(shown, result))
      .catch((error: unknown) => this.options.logger.debug?.(`grpc: an input answer could not be written (${String(error)})`))
      .finally(() => {
        if (--this.waitingAnswers < MAX_WAITING_ANSWERS) this.resume(ANSWERS_WAITING);
      });
  }

  private writeAck(id: string, answer: InputAnswer | StreamException): void {
    if (this.writer.done) return;
    if (!this.writer.write(grpcAckFrame(id, answer))) this.pauseForWrite();
  }

  private pause(input: SubscriptionInput): void {
    if (this.paused & QUEUE_FULL) return;
    input.onRoom(() => {
      input.onRoom(undefined);
      this.resume(QUEUE_FULL);
    });
    this.setPaused(this.paused | QUEUE_FULL);
  }

  private pauseForWrite(): void {
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.writer.onDrain(() => this.resume(WRITE_BLOCKED));
    }
    this.setPaused(this.paused | WRITE_BLOCKED);
  }

  private resume(reason: number): void {
    if (this.paused & reason) this.setPaused(this.paused & ~reason);
  }

  private setPaused(paused: number): void {
    const was = this.paused;
    this.paused = paused;
    if (was === 0 && paused !== 0) this.call.pause();
    else if (was !== 0 && paused === 0 && !this.call.destroyed) this.call.resume();
  }
}

/**
 * One client message's data: UTF-8 JSON, nested at most `maxDepth` levels (checked before it is
 * parsed), without `__proto__`/`constructor`/`prototype` keys. `BAD_REQUEST` otherwise.
 */
export function parseInputData(bytes: Buffer, maxDepth: number): unknown {
  const text = bytes.toString('utf8');
  if (jsonDepthExceeds(text, maxDepth)) throw tooDeepError('Message data', maxDepth);
  try {
    return JSON.parse(text, (key, value: unknown) => {
      assertSafeKey(key);
      return value;
    });
  } catch (error) {
    if (error instanceof StreamException) throw error;
    if (error instanceof RangeError) throw tooDeepError('Message data', maxDepth);
    throw new StreamException(StreamErrorCode.BAD_REQUEST, 'Message data is not valid JSON');
  }
}

/**
 * The input rate limiters of gRPC connections (`input.rateLimit`, PROTOCOL.md §7.1): one per
 * peer address (one HTTP/2 connection), shared by its calls and dropped with the last of them.
 */
export class GrpcPeerRates {
  private readonly peers = new Map<string, { limiter: InputRateLimiter; calls: number }>();

  constructor(private readonly make: () => InputRateLimiter | undefined) {}

  /** The limiter of the call's connection (`undefined` when there is no rate limit). */
  acquire(call: GrpcDuplexCall): InputRateLimiter | undefined {
    const peer = call.getPeer();
    let entry = this.peers.get(peer);
    if (!entry) {
      const limiter = this.make();
      if (!limiter) return undefined;
      this.peers.set(peer, (entry = { limiter, calls: 0 }));
    }
    entry.calls++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (--entry.calls === 0) this.peers.delete(peer);
    };
    call.once('cancelled', release); // every end of a call, its own status included
    call.once('close', release);
    return entry.limiter;
  }
}
