import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Observable, type Subscriber } from 'rxjs';
import { StreamErrorCode } from '../errors/stream-error-code.js';
import { StreamException, isExpectedError } from '../errors/stream-exception.js';
import { StreamEvent } from '../interfaces/stream-event.interface.js';
import type { HubAdapter, HubRecord } from './hub-adapter.interface.js';
import { formatHubEventId, parseHubEventId } from './hub-event-id.js';

/** Injection token of the hub's adapter. */
export const HUB_ADAPTER = Symbol('longlink:hub-adapter');

/** Why a subscriber got a reset notice. */
export type HubResetReason = 'too-old' | 'unknown' | 'other-epoch' | 'history-lost';

const TOPIC = /^[A-Za-z0-9:._~\-/]{1,200}$/;

/** One subscriber's view of a topic: it receives deliveries in order, without duplicates. */
interface Listener {
  deliver(event: StreamEvent, position: string): void;
  reset(reason: HubResetReason, latestId: string | undefined): void;
}

/** A topic this instance listens to: one adapter subscription for all its subscribers. */
interface TopicState {
  listeners: Set<Listener>;
  ready: Promise<void>;
  /** Position of the last record the adapter delivered. */
  last: string | undefined;
}

/**
 * The fan-out hub: publish to topics, stream a topic's live events to any number of
 * subscribers on any transport, resume exactly after a last event id while it is in the
 * topic's history, and say so (a reset notice) when it is not.
 *
 * Each topic has one upstream per instance however many subscribers; each published event
 * becomes one `StreamEvent` per instance, serialised once for every subscriber.
 *
 * ```ts
 * @Stream('chat') chat(@StreamParams('room') room: string, @LastEventId() last?: string) {
 *   return this.hub.stream(`chat:${room}`, { lastEventId: last });
 * }
 * await this.hub.publish(`chat:${room}`, { from, text }); // → the event id
 * ```
 *
 * @publicApi
 */
@Injectable()
export class StreamHub implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('LonglinkHub');
  private readonly topics = new Map<string, TopicState>();
  private readonly topicOps = new Map<string, Promise<void>>();
  private epoch = '';
  private started: Promise<void> | undefined;

  constructor(@Inject(HUB_ADAPTER) private readonly adapter: HubAdapter) {}

  /** Topics this instance currently listens to (one upstream each). */
  get activeTopics(): number {
    return this.topics.size;
  }

  async onModuleInit(): Promise<void> {
    await this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.adapter.close();
  }

  /**
   * Publishes `data` (serialised here, once) to `topic`. Resolves with the event id;
   * rejects with `UNAVAILABLE` when the store cannot be reached, `BAD_REQUEST` for a bad topic.
   */
  async publish(topic: string, data: unknown): Promise<string> {
    checkTopic(topic);
    await this.start();
    const json = JSON.stringify(data) ?? 'null';
    try {
      const { epoch, record } = await this.adapter.publish(topic, json);
      return formatHubEventId(epoch, record.position);
    } catch (error) {
      if (isExpectedError(error)) throw error;
      this.logger.warn(`publish to "${topic}" failed: ${error instanceof Error ? error.message : String(error)}`);
      throw new StreamException(StreamErrorCode.UNAVAILABLE, 'The hub cannot publish right now', undefined, { cause: error });
    }
  }

  /**
   * A topic's events: first those after `lastEventId` (if it is in the history), then live
   * ones, with no gap or duplicate between them. If `lastEventId` cannot be resumed from, a
   * reset notice (`StreamEvent` of kind `'reset'`, data `{ reason }`) comes first.
   */
  stream(topic: string, options: { lastEventId?: string } = {}): Observable<StreamEvent> {
    checkTopic(topic);
    return new Observable<StreamEvent>((subscriber) => {
      let last: string | undefined; // position of the last event this subscriber got
      let buffered: { event: StreamEvent; position: string }[] | undefined = [];
      const emit = (event: StreamEvent, position: string) => {
        if (last !== undefined && this.adapter.compare(position, last) <= 0) return; // seen already
        last = position;
        subscriber.next(event);
      };
      const listener: Listener = {
        deliver: (event, position) => (buffered ? buffered.push({ event, position }) : emit(event, position)),
        reset: (reason, latestId) => {
          last = undefined;
          if (buffered) buffered = [];
          subscriber.next(resetEvent(reason, latestId));
        },
      };
      const state = this.acquire(topic, listener);
      void (async () => {
        await state.ready;
        if (subscriber.closed) return;
        if (options.lastEventId !== undefined) await this.replay(topic, options.lastEventId, subscriber, emit);
        if (subscriber.closed) return;
        // Live events that arrived meanwhile: emit() drops those the replay already sent.
        const pending = buffered ?? [];
        buffered = undefined;
        for (const { event, position } of pending) emit(event, position);
      })().catch((error: unknown) => {
        if (!subscriber.closed) subscriber.error(this.unavailable(error));
      });
      return () => this.release(topic, listener);
    });
  }

  private async replay(
    topic: string,
    lastEventId: string,
    subscriber: Subscriber<StreamEvent>,
    emit: (event: StreamEvent, position: string) => void,
  ): Promise<void> {
    const parsed = parseHubEventId(lastEventId);
    const latestId = async () => {
      const latest = await this.adapter.latest(topic);
      return latest === undefined ? undefined : formatHubEventId(this.epoch, latest);
    };
    if (!parsed || !this.adapter.isPosition(parsed.position)) {
      return void subscriber.next(resetEvent('unknown', await latestId()));
    }
    if (parsed.epoch !== this.epoch) return void subscriber.next(resetEvent('other-epoch', await latestId()));
    const history = await this.adapter.history(topic, parsed.position);
    if (history.kind === 'gap') {
      const latest = history.latest === undefined ? undefined : formatHubEventId(this.epoch, history.latest);
      return void subscriber.next(resetEvent(history.reason, latest));
    }
    for (const record of history.records) {
      if (subscriber.closed) return;
      emit(this.toEvent(record, this.epoch), record.position);
    }
  }

  private start(): Promise<void> {
    this.started ??= (async () => {
      await this.adapter.start({
        message: (topic, epoch, record) => this.onMessage(topic, epoch, record),
        reconnected: () => void this.onReconnected(),
      });
      this.epoch = await this.adapter.epoch();
    })();
    return this.started;
  }

  private acquire(topic: string, listener: Listener): TopicState {
    let state = this.topics.get(topic);
    if (!state) {
      const created: TopicState = { listeners: new Set(), ready: Promise.resolve(), last: undefined };
      created.ready = this.start()
        .then(() => this.serialized(topic, () => this.adapter.subscribe(topic)))
        .then(async () => {
          created.last ??= await this.adapter.latest(topic);
        });
      created.ready.catch(() => undefined);
      this.topics.set(topic, (state = created));
    }
    state.listeners.add(listener);
    return state;
  }

  private release(topic: string, listener: Listener): void {
    const state = this.topics.get(topic);
    if (!state) return;
    state.listeners.delete(listener);
    if (state.listeners.size > 0) return;
    this.topics.delete(topic);
    // Unless someone subscribed again meanwhile (their subscribe is queued before this).
    void this.serialized(topic, async () => {
      if (!this.topics.has(topic)) await this.adapter.unsubscribe(topic);
    }).catch(() => undefined);
  }

  /** Runs a topic's adapter (un)subscriptions one after the other, in call order. */
  private serialized(topic: string, op: () => Promise<void>): Promise<void> {
    const previous = this.topicOps.get(topic) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(op);
    this.topicOps.set(topic, next);
    void next
      .finally(() => {
        if (this.topicOps.get(topic) === next) this.topicOps.delete(topic);
      })
      .catch(() => undefined);
    return next;
  }

  /** One published record → one event for every local subscriber (serialised once). */
  private onMessage(topic: string, epoch: string, record: HubRecord): void {
    const state = this.topics.get(topic);
    if (epoch !== this.epoch) this.epochChanged(epoch);
    if (!state) return;
    state.last = record.position;
    const event = this.toEvent(record, epoch);
    for (const listener of [...state.listeners]) listener.deliver(event, record.position);
  }

  /** The store lost its data: every live subscriber may have missed events. */
  private epochChanged(epoch: string): void {
    this.logger.warn(`History epoch changed (${this.epoch} → ${epoch}): subscribers get a reset notice`);
    this.epoch = epoch;
    for (const state of this.topics.values()) {
      state.last = undefined;
      for (const listener of [...state.listeners]) listener.reset('history-lost', undefined);
    }
  }

  /** After a broker reconnect, deliver what was published meanwhile (or reset). */
  private async onReconnected(): Promise<void> {
    try {
      const epoch = await this.adapter.epoch();
      if (epoch !== this.epoch) return this.epochChanged(epoch);
      for (const [topic, state] of this.topics) {
        if (state.last === undefined) continue;
        const history = await this.adapter.history(topic, state.last);
        if (history.kind === 'gap') {
          for (const listener of [...state.listeners]) listener.reset(history.reason, undefined);
          continue;
        }
        for (const record of history.records) this.onMessage(topic, epoch, record);
      }
    } catch (error) {
      this.logger.warn(`Catching up after a reconnect failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private toEvent(record: HubRecord, epoch: string): StreamEvent {
    return new StreamEvent(JSON.parse(record.json) as unknown, formatHubEventId(epoch, record.position), { json: record.json });
  }

  private unavailable(error: unknown): StreamException {
    if (error instanceof StreamException) return error;
    this.logger.warn(`Hub subscription failed: ${error instanceof Error ? error.message : String(error)}`);
    return new StreamException(StreamErrorCode.UNAVAILABLE, 'The hub is not reachable right now', undefined, { cause: error });
  }
}

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || !TOPIC.test(topic)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `Invalid topic ${JSON.stringify(topic)}`);
  }
}

function resetEvent(reason: HubResetReason, latestId: string | undefined): StreamEvent {
  return new StreamEvent({ reason }, latestId, { kind: 'reset' });
}
