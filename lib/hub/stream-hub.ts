import { Inject, Injectable, Logger, Optional, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { holdOpenUntil } from '../core/open-barrier.js';
import { LONGLINK_LOGGER_CONTEXT } from '../longlink.constants.js';
import { Observable, type MonoTypeOperatorFunction, type Subscriber } from 'rxjs';
import { LONGLINK_RESOLVED_OPTIONS } from '../longlink.tokens.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import { HubPresence } from './presence/hub-presence.js';
import { InMemoryPresenceStore } from './presence/in-memory.presence-store.js';
import type { PresenceEvent, PresenceHandle, PresenceMember, PresenceOptions } from './presence/presence.interface.js';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException, isExpectedError } from '../errors/stream-exception.js';
import { excerpt } from '../errors/error-bounds.js';
import { StreamEvent } from '../interfaces/stream-event.interface.js';
import { LonglinkMetrics } from '../metrics/longlink-metrics.js';
import type { HubAdapter, HubRecord } from './hub-adapter.interface.js';
import { formatHubEventId, parseHubEventId } from './hub-event-id.js';
import { HUB_ADAPTER } from '../longlink.tokens.js';

/** The hub adapter's token, also named from here (longlink.tokens.ts holds every token). */
export { HUB_ADAPTER };

/** Options of {@link StreamHub.stream}. */
export interface HubStreamOptions {
  /** The last event id the client got (a reconnect): resume after it. */
  lastEventId?: string;
  /**
   * On a first subscribe (no `lastEventId`): replay up to this many of the topic's newest
   * events before live ones (at most `hub.historySize`). Default 0.
   */
  history?: number;
}

/** Reads a presence stream's `state`: its data, and the newest diff's position when read. */
type Snapshot = () => Promise<{ epoch: string; position: string | undefined; data: unknown }>;

/** Why a subscriber got a reset notice. */
export type HubResetReason = 'too-old' | 'unknown' | 'other-epoch' | 'history-lost';

const TOPIC = /^[A-Za-z0-9:._~\-/]{1,200}$/;
/** A topic's presence diffs are published to `<topic>:presence` (reserved: `publish()` refuses it). */
const PRESENCE_SUFFIX = ':presence';
/** Presence defaults (`hub.presence`). */
export const PRESENCE_DEFAULTS: Required<PresenceOptions> = {
  ttlMs: 15_000,
  graceMs: 3000,
  maxMembers: 10_000,
  maxMetaBytes: 1024,
  maxUpdatesPerSecond: 10,
};
/** Attempts to catch up after a reconnect before giving up with a reset. */
const CATCH_UP_ATTEMPTS = 10;
const CATCH_UP_RETRY_MS = 300;

/** One subscriber's view of a topic: it receives deliveries in order, without duplicates. */
interface Listener {
  deliver(event: StreamEvent, position: string): void;
  /** `position`: where the subscriber now stands (events up to it are not delivered again). */
  reset(reason: HubResetReason, id: string | undefined, position: string | undefined): void;
}

/** A topic this instance listens to: one adapter subscription for all its subscribers. */
interface TopicState {
  listeners: Set<Listener>;
  ready: Promise<void>;
  /** Position of the last record delivered to the listeners. */
  last: string | undefined;
  /** The topic's newest position when this instance subscribed (catch-up starts there if nothing came since). */
  floor: string | undefined;
  /** While catching up after a reconnect: where from, and live records that arrived meanwhile. */
  catchUp: { from: string; pending: HubRecord[] } | undefined;
}

/**
 * The fan-out hub: publish to topics, stream a topic's live events to any number of
 * subscribers on any transport, replay its last events on a first join, resume exactly after
 * a last event id while it is in the topic's history (and say so, with a reset notice, when it
 * is not), and keep each topic's presence (who is connected, with join/leave diffs).
 *
 * Each topic has one upstream per instance however many subscribers; each published event
 * becomes one `StreamEvent` per instance, serialised once for every subscriber.
 *
 * ```ts
 * @Stream('chat') chat(@StreamParams('room') room: string, @LastEventId() last?: string, @StreamContext() call: StreamCall<User>) {
 *   const topic = `chat:${room}`;
 *   return this.hub.stream(topic, { lastEventId: last, history: 20 }).pipe(this.hub.withPresence(topic, call.user!.id, {}));
 * }
 * await this.hub.publish(`chat:${room}`, { from, text }); // → the event id
 * await this.hub.history(`chat:${room}`, { limit: 20 });  // → StreamEvent[]
 * await this.hub.presence(`chat:${room}`);                 // → [{ key, metas: [{ ref, meta }] }]
 * ```
 *
 * @publicApi
 */
@Injectable()
export class StreamHub implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  private readonly topics = new Map<string, TopicState>();
  private readonly topicOps = new Map<string, Promise<void>>();
  /** The store's epoch as last confirmed by a command reply; `undefined` until known. */
  private epoch: string | undefined;
  private started: Promise<void> | undefined;
  private catchingUp: Promise<void> | undefined;
  private catchUpAgain = false;
  /** Live delivery is down (the adapter said `disconnected`, not yet `reconnected`). */
  private offline = false;

  /** Whether live delivery from the store is up (false from a lost connection until it is back). */
  private storeConnected = true;
  private readonly connectionListeners = new Set<(connected: boolean) => void>();
  /** `redis`, `memory` or the adapter's class name: the metrics attribute. */
  private readonly adapterName: string;

  constructor(
    @Inject(HUB_ADAPTER) private readonly adapter: HubAdapter,
    @Optional() private readonly metrics?: LonglinkMetrics,
    @Optional() @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options?: ResolvedLonglinkOptions,
  ) {
    const name = adapter.constructor.name;
    this.adapterName = name === 'RedisHubAdapter' ? 'redis' : name === 'InMemoryHubAdapter' ? 'memory' : name;
  }

  /** Whether the store's live delivery is connected (always, in memory). */
  get connected(): boolean {
    return this.storeConnected;
  }

  /** Calls `fn` whenever the store's connection is lost (`false`) or back (`true`); returns an unsubscribe function. */
  onConnectionChange(fn: (connected: boolean) => void): () => void {
    this.connectionListeners.add(fn);
    return () => this.connectionListeners.delete(fn);
  }

  /** Round trip to the store in ms (health checks); rejects when it does not answer within `timeoutMs`. */
  async ping(timeoutMs = 1000): Promise<number> {
    const started = performance.now();
    if (this.adapter.ping) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.adapter.ping(),
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), timeoutMs))),
        ]);
      } finally {
        clearTimeout(timer);
      }
    }
    return performance.now() - started;
  }

  private setConnected(connected: boolean): void {
    if (connected === this.storeConnected) return;
    this.storeConnected = connected;
    if (connected) this.metrics?.hubReconnected(this.adapterName);
    else this.metrics?.hubError(this.adapterName, 'connection');
    for (const fn of [...this.connectionListeners]) fn(connected);
  }

  /** Topics this instance currently listens to (one upstream each). */
  get activeTopics(): number {
    return this.topics.size;
  }

  async onModuleInit(): Promise<void> {
    await this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.presenceState?.close();
    await this.adapter.close();
  }

  /**
   * Publishes `data` (serialised here, once) to `topic`. Resolves with the event id once it
   * is stored; rejects with `UNAVAILABLE` when the store cannot be reached (if the connection
   * drops mid-publish the outcome is unknown: the event may have been stored), `BAD_REQUEST`
   * for a bad topic (1 to 200 of `A-Z a-z 0-9 : . _ ~ - /`; names ending in `:presence` are the
   * hub's own) or data that is not JSON-serialisable. Subscribers get the event with this id,
   * once, in publish order (PROTOCOL.md §6.4).
   */
  async publish<T = unknown>(topic: string, data: T): Promise<string> {
    checkTopic(topic);
    if (topic.endsWith(PRESENCE_SUFFIX)) {
      throw new StreamException(StreamErrorCode.BAD_REQUEST, `Topics ending in "${PRESENCE_SUFFIX}" carry presence diffs: publish() refuses them`);
    }
    return this.append(topic, data);
  }

  private async append(topic: string, data: unknown): Promise<string> {
    let json: string;
    try {
      json = JSON.stringify(data) ?? 'null';
    } catch {
      throw new StreamException(StreamErrorCode.BAD_REQUEST, 'The published data cannot be serialised as JSON');
    }
    await this.start();
    try {
      const { epoch, record } = await this.adapter.publish(topic, json);
      this.observeEpoch(epoch);
      this.metrics?.hubPublished(this.adapterName);
      return formatHubEventId(epoch, record.position);
    } catch (error) {
      const exception = this.unavailable(error, `publish to "${topic}"`);
      this.metrics?.hubPublished(this.adapterName, exception.code);
      if (exception.code === StreamErrorCode.UNAVAILABLE) this.metrics?.hubError(this.adapterName, 'publish');
      throw exception;
    }
  }

  /**
   * A topic's events as an Observable, for a `@Stream()` handler to return (or to pipe).
   *
   * - With `lastEventId` (a reconnect): first the events after it, if it is in the history,
   *   then live ones, with no gap or duplicate between them. If it cannot be resumed from, a
   *   reset notice (`StreamEvent` of kind `'reset'`, data `{ reason }`, id the topic's newest
   *   event id) comes first.
   * - Without it, `history: n` (a first join) replays the topic's last `n` events (at most
   *   `hub.historySize`), then live ones: exact, also when publishes race the subscribe.
   * - Neither: live events only.
   *
   * The subscription counts as open (SSE head, the testing kit's `subscribe()`) once the
   * topic is live and the history is read. Errors with `UNAVAILABLE` when the store cannot be
   * reached, `BAD_REQUEST` for a bad topic or `history`.
   */
  stream<T = unknown>(topic: string, options: HubStreamOptions = {}): Observable<StreamEvent<T>> {
    const history = options.history ?? 0;
    if (!Number.isSafeInteger(history) || history < 0) {
      throw new StreamException(StreamErrorCode.BAD_REQUEST, 'history must be a non-negative integer');
    }
    checkTopic(topic);
    // The data is what publishers sent: `T` is the caller's word for it, not checked at run time.
    return this.open(topic, options.lastEventId, history, undefined) as Observable<StreamEvent<T>>;
  }

  /**
   * A topic's events after `lastEventId`, or its last `history` ones, then live ones. With
   * `snapshot` (presence streams), a `state` event replaces the history: first when there is
   * no `lastEventId`, and again after every reset notice; events it already covers are skipped.
   */
  private open(topic: string, lastEventId: string | undefined, history: number, snapshot: Snapshot | undefined): Observable<StreamEvent> {
    return new Observable<StreamEvent>((subscriber) => {
      let last: string | undefined; // position of the last event this subscriber got
      let generation = 0; // bumped by every reset: a replay in progress stops
      let buffered: { event: StreamEvent; position: string }[] | undefined = [];
      let initial = true;
      let needSnapshot = snapshot !== undefined && lastEventId === undefined;
      const emit = (event: StreamEvent, position: string) => {
        if (last !== undefined && this.adapter.compare(position, last) <= 0) return; // seen already
        last = position;
        subscriber.next(event);
      };
      const flush = () => {
        // Live events that arrived meanwhile: emit() drops those already sent or covered.
        const pending = buffered ?? [];
        buffered = undefined;
        for (const { event, position } of pending) emit(event, position);
      };
      const takeSnapshot = async (start: number): Promise<void> => {
        const taken = await snapshot!();
        this.observeEpoch(taken.epoch);
        if (generation !== start || subscriber.closed) return;
        const id = taken.position === undefined ? undefined : formatHubEventId(taken.epoch, taken.position);
        subscriber.next(new StreamEvent(taken.data, id));
        if (taken.position !== undefined && (last === undefined || this.adapter.compare(taken.position, last) > 0)) last = taken.position;
      };
      const listener: Listener = {
        deliver: (event, position) => (buffered ? buffered.push({ event, position }) : emit(event, position)),
        reset: (reason, id, position) => {
          generation++;
          last = position;
          if (buffered) buffered = [];
          subscriber.next(resetEvent(reason, id));
          if (!snapshot) return;
          needSnapshot = true;
          if (initial) return; // the opening flow takes it
          buffered ??= [];
          const start = generation;
          takeSnapshot(start).then(
            () => generation === start && !subscriber.closed && flush(),
            (error: unknown) => subscriber.closed || subscriber.error(this.unavailable(error, `presence of "${topic}"`)),
          );
        },
      };
      const state = this.acquire(topic, listener);
      const live = (async () => {
        await state.ready;
        if (subscriber.closed) return;
        // A new subscriber is refused while live delivery is down (it would wait for the
        // store's return); those already streaming stay and catch up, or get a reset.
        if (this.offline) throw new Error('live delivery is down');
        if (lastEventId !== undefined) {
          const start = generation;
          await this.replay(topic, lastEventId, subscriber, emit, listener, () => generation === start);
        } else if (history > 0) {
          const start = generation;
          const recent = await this.adapter.recent(topic, history);
          this.observeEpoch(recent.epoch);
          // A reset meanwhile (the store lost its data) makes these records stale.
          if (generation === start && !subscriber.closed) {
            for (const record of recent.records) {
              const event = this.toEvent(record, recent.epoch);
              if (event) emit(event, record.position);
            }
          }
        }
        while (needSnapshot && !subscriber.closed) {
          needSnapshot = false;
          await takeSnapshot(generation);
        }
        if (subscriber.closed) return;
        initial = false;
        flush();
      })();
      // The subscription counts as held once the topic is live here: an event published
      // after that is delivered (the SSE head and the testing kit's subscribe() wait for it).
      holdOpenUntil(live);
      live.catch((error: unknown) => {
        if (subscriber.closed) return;
        const exception = this.unavailable(error, `subscription to "${topic}"`);
        if (exception.code === StreamErrorCode.UNAVAILABLE) this.metrics?.hubError(this.adapterName, 'subscribe');
        subscriber.error(exception);
      });
      return () => this.release(topic, listener);
    });
  }

  /**
   * A topic's last `limit` events (at most `hub.historySize`; all it keeps when omitted),
   * oldest first, for ordinary routes (e.g. a page's first render). Ids are the same as the
   * stream's, so a client can go on with `stream(topic, { lastEventId: events.at(-1)?.id })`.
   * Rejects with `UNAVAILABLE` when the store cannot be reached, `BAD_REQUEST` for a bad topic
   * or limit.
   */
  async history<T = unknown>(topic: string, options: { limit?: number } = {}): Promise<StreamEvent<T>[]> {
    checkTopic(topic);
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new StreamException(StreamErrorCode.BAD_REQUEST, 'limit must be a non-negative integer');
    }
    await this.start();
    try {
      const { epoch, records } = await this.adapter.recent(topic, limit);
      this.observeEpoch(epoch);
      const events: StreamEvent<T>[] = [];
      for (const record of records) {
        const event = this.toEvent(record, epoch);
        if (event) events.push(event as StreamEvent<T>);
      }
      return events;
    } catch (error) {
      throw this.unavailable(error, `history of "${topic}"`);
    }
  }

  /**
   * Tracks a connection in `topic`'s presence under `key` (e.g. the user id from `call.user`)
   * with `meta` (any JSON, e.g. `{ device, typing }`) until `signal` aborts (pass the
   * `StreamCall`'s) or the handle's `leave()`; then it leaves after `hub.presence.graceMs`. The
   * same key on several connections is one member with several metas. Joins, updates and leaves
   * are broadcast as diffs on the presence stream. Rejects with `RESOURCE_EXHAUSTED` past
   * `maxMembers` or `maxMetaBytes`, `BAD_REQUEST` for a bad topic, key or meta, `UNAVAILABLE`
   * when the store cannot be reached. Handlers usually use {@link StreamHub.withPresence}.
   */
  async track<M = unknown>(topic: string, key: string, meta: M, options: { signal?: AbortSignal } = {}): Promise<PresenceHandle<M>> {
    checkTopic(topic);
    checkTopic(`${topic}${PRESENCE_SUFFIX}`);
    const presence = await this.presenceReady();
    try {
      return (await presence.track(topic, key, meta, options.signal)) as PresenceHandle<M>;
    } catch (error) {
      throw this.unavailable(error, `presence in "${topic}"`);
    }
  }

  /**
   * An operator for a `@Stream()` handler: tracks the subscription in `topic`'s presence while
   * it lasts (see {@link StreamHub.track}); `onTracked` gets the handle (to `update()` the meta).
   * The call counts as open once the entry is stored; a refusal (limits) errors the stream.
   *
   * ```ts
   * return this.hub.stream(topic, { history: 20 }).pipe(this.hub.withPresence(topic, call.user.id, { device }));
   * ```
   */
  withPresence<E, M = unknown>(topic: string, key: string, meta: M, onTracked?: (handle: PresenceHandle<M>) => void): MonoTypeOperatorFunction<E> {
    return (source) =>
      new Observable<E>((subscriber) => {
        const controller = new AbortController();
        const tracked = this.track(topic, key, meta, { signal: controller.signal });
        holdOpenUntil(tracked);
        tracked.then(
          (handle) => onTracked?.(handle),
          (error: unknown) => subscriber.closed || subscriber.error(error),
        );
        const subscription = source.subscribe(subscriber);
        return () => {
          controller.abort();
          subscription.unsubscribe();
        };
      });
  }

  /**
   * `topic`'s presence now: its members, each a key with one meta per tracked connection.
   * Rejects with `UNAVAILABLE` when the store cannot be reached.
   */
  async presence<M = unknown>(topic: string): Promise<PresenceMember<M>[]> {
    checkTopic(topic);
    const presence = await this.presenceReady();
    try {
      return (await presence.list(topic)) as PresenceMember<M>[];
    } catch (error) {
      throw this.unavailable(error, `presence of "${topic}"`);
    }
  }

  /**
   * `topic`'s presence as a stream (PROTOCOL.md §6.5): a `state` event (the member list), then
   * `diff` events (joins and leaves, by ref). Resumable like any hub topic: with `lastEventId`
   * it continues with the diffs after it; after any reset notice a fresh `state` follows.
   */
  presenceStream<M = unknown>(topic: string, options: { lastEventId?: string } = {}): Observable<StreamEvent<PresenceEvent<M>>> {
    checkTopic(topic);
    const diffs = `${topic}${PRESENCE_SUFFIX}`;
    checkTopic(diffs);
    return this.open(diffs, options.lastEventId, 0, async () => {
      const presence = await this.presenceReady();
      // The newest diff first, then the members: a diff the list does not show is newer (PROTOCOL.md §6.5).
      const { epoch, records } = await this.adapter.recent(diffs, 1);
      const members = await presence.list(topic);
      return { epoch, position: records[0]?.position, data: { type: 'state', members } satisfies PresenceEvent };
    }) as Observable<StreamEvent<PresenceEvent<M>>>;
  }

  private presenceState: HubPresence | undefined;

  private async presenceReady(): Promise<HubPresence> {
    await this.start();
    return this.presenceOf();
  }

  private presenceOf(): HubPresence {
    if (!this.presenceState) {
      const options = { ...PRESENCE_DEFAULTS, ...this.options?.hub.presence };
      const store = this.adapter.presenceStore?.(options.ttlMs) ?? new InMemoryPresenceStore();
      this.presenceState = new HubPresence(store, (topic, event) => this.append(`${topic}${PRESENCE_SUFFIX}`, event), options, this.logger);
    }
    return this.presenceState;
  }

  private async replay(
    topic: string,
    lastEventId: string,
    subscriber: Subscriber<StreamEvent>,
    emit: (event: StreamEvent, position: string) => void,
    listener: Listener,
    current: () => boolean,
  ): Promise<void> {
    const parsed = parseHubEventId(lastEventId);
    if (!parsed || !this.adapter.isPosition(parsed.position)) {
      const [epoch, latest] = await Promise.all([this.adapter.epoch(), this.adapter.latest(topic)]);
      this.observeEpoch(epoch);
      return listener.reset('unknown', latest === undefined ? undefined : formatHubEventId(epoch, latest), latest);
    }
    const history = await this.adapter.history(topic, parsed.position);
    this.observeEpoch(history.epoch);
    if (!current() || subscriber.closed) return;
    if (history.kind === 'gap' || parsed.epoch !== history.epoch) {
      const latest =
        history.kind === 'gap' ? history.latest : history.records.at(-1)?.position ?? (await this.adapter.latest(topic));
      const reason = parsed.epoch !== history.epoch ? 'other-epoch' : (history as { reason: 'too-old' | 'unknown' }).reason;
      if (!current() || subscriber.closed) return;
      return listener.reset(reason, latest === undefined ? undefined : formatHubEventId(history.epoch, latest), latest);
    }
    for (const record of history.records) {
      if (subscriber.closed || !current()) return;
      const event = this.toEvent(record, history.epoch);
      if (event) emit(event, record.position);
    }
  }

  private start(): Promise<void> {
    this.started ??= this.adapter
      .start({
        message: (topic, epoch, record) => this.onMessage(topic, epoch, record),
        disconnected: () => {
          this.setConnected(false);
          this.onDisconnected();
        },
        reconnected: () => {
          this.setConnected(true);
          this.offline = false;
          this.catchUp();
        },
      })
      .then(() => this.confirmEpoch())
      .then(() => {
        // Entries of an instance that is gone are swept even before this one uses presence.
        if (this.adapter.presenceStore) void this.presenceOf().start();
      })
      .catch((error: unknown) => {
        this.started = undefined; // try again next time
        throw error;
      });
    return this.started;
  }

  private acquire(topic: string, listener: Listener): TopicState {
    let state = this.topics.get(topic);
    if (!state) {
      const created: TopicState = {
        listeners: new Set(),
        ready: Promise.resolve(),
        last: undefined,
        floor: undefined,
        catchUp: undefined,
      };
      // Queued now, so a release that follows in the same tick cannot overtake it.
      created.ready = this.serialized(topic, async () => {
        await this.start();
        await this.adapter.subscribe(topic);
      }).then(async () => {
        created.floor = (await this.adapter.latest(topic)) ?? this.adapter.origin;
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

  /** A live record from the adapter (any instance's publish). Never throws. */
  private onMessage(topic: string, epoch: string, record: HubRecord): void {
    try {
      if (!this.adapter.isPosition(record.position)) return;
      if (epoch !== this.epoch) {
        // Only a command reply confirms an epoch; until then such messages are not delivered.
        void this.confirmEpoch();
        return;
      }
      const state = this.topics.get(topic);
      if (!state) return;
      if (state.catchUp) state.catchUp.pending.push(record);
      else this.deliver(state, record, epoch);
    } catch (error) {
      this.logger.warn(`Dropped a malformed hub message on "${topic}": ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** One record → one event for every local subscriber (serialised once), in order, once. */
  private deliver(state: TopicState, record: HubRecord, epoch: string): void {
    if (state.last !== undefined && this.adapter.compare(record.position, state.last) <= 0) return;
    const event = this.toEvent(record, epoch);
    if (!event) return;
    state.last = record.position;
    for (const listener of [...state.listeners]) listener.deliver(event, record.position);
  }

  private observeEpoch(epoch: string): void {
    if (this.epoch === undefined) this.epoch = epoch;
    else if (epoch !== this.epoch) this.epochChanged(epoch);
  }

  private async confirmEpoch(): Promise<void> {
    try {
      this.observeEpoch(await this.adapter.epoch(true));
    } catch {
      // not reachable now: the reconnect path checks again
    }
  }

  /**
   * The store lost its data: every live subscriber may have missed events, and gets a reset.
   * Then it gets the new epoch's records from its start: all of them were published after the
   * loss (possibly before this instance noticed it), so none is missed and none is a duplicate.
   */
  private epochChanged(epoch: string): void {
    this.logger.warn(`History epoch changed (${this.epoch} → ${epoch}): subscribers get a reset notice`);
    this.epoch = epoch;
    for (const state of this.topics.values()) {
      state.last = undefined;
      state.floor = this.adapter.origin;
      state.catchUp = { from: this.adapter.origin, pending: [] };
      for (const listener of [...state.listeners]) listener.reset('history-lost', undefined, undefined);
    }
    if (this.topics.size > 0) this.catchUp();
  }

  /** Live delivery stopped: remember where each topic stood, hold what arrives until caught up. */
  private onDisconnected(): void {
    this.offline = true;
    for (const state of this.topics.values()) {
      state.catchUp ??= { from: state.last ?? state.floor ?? this.adapter.origin, pending: [] };
    }
  }

  /** After a reconnect: deliver what was published meanwhile, or reset. One run at a time. */
  private catchUp(): void {
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return;
    }
    this.catchingUp = this.runCatchUp().finally(() => {
      this.catchingUp = undefined;
      if (this.catchUpAgain) {
        this.catchUpAgain = false;
        this.catchUp();
      }
    });
  }

  private async runCatchUp(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        this.observeEpoch(await this.adapter.epoch(true));
        for (const [topic, state] of this.topics) {
          if (!state.catchUp) continue;
          const history = await this.adapter.history(topic, state.catchUp.from);
          if (history.epoch !== this.epoch) return this.observeEpoch(history.epoch);
          const { pending } = state.catchUp;
          state.catchUp = undefined;
          if (history.kind === 'gap') {
            const id = history.latest === undefined ? undefined : formatHubEventId(history.epoch, history.latest);
            state.last = history.latest;
            for (const listener of [...state.listeners]) listener.reset(history.reason, id, history.latest);
          } else {
            for (const record of history.records) this.deliver(state, record, history.epoch);
          }
          for (const record of pending) this.deliver(state, record, history.epoch);
        }
        return;
      } catch (error) {
        if (attempt >= CATCH_UP_ATTEMPTS) {
          this.logger.warn(`Could not catch up after a reconnect: ${error instanceof Error ? error.message : String(error)}`);
          for (const state of this.topics.values()) {
            if (!state.catchUp) continue;
            state.catchUp = undefined;
            for (const listener of [...state.listeners]) listener.reset('history-lost', undefined, undefined);
          }
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS).unref());
      }
    }
  }

  /** The record as an event; `undefined` (logged) when its JSON is malformed. */
  private toEvent(record: HubRecord, epoch: string): StreamEvent | undefined {
    let data: unknown;
    try {
      data = JSON.parse(record.json);
    } catch {
      this.logger.warn(`Dropped a hub record with malformed JSON at ${record.position}`);
      return undefined;
    }
    return new StreamEvent(data, formatHubEventId(epoch, record.position), { json: record.json });
  }

  private unavailable(error: unknown, what: string): StreamException {
    if (error instanceof StreamException || isExpectedError(error)) return error as StreamException;
    this.logger.warn(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    return new StreamException(StreamErrorCode.UNAVAILABLE, 'The hub is not reachable right now', undefined, {
      cause: error,
    });
  }
}

function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || !TOPIC.test(topic)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `Invalid topic ${excerpt(topic)}`);
  }
}

function resetEvent(reason: HubResetReason, id: string | undefined): StreamEvent {
  return new StreamEvent({ reason }, id, { kind: 'reset' });
}
