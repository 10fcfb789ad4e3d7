import { Inject, Injectable, Logger, Optional, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import { LONGLINK_LOGGER_CONTEXT } from '../longlink.constants.js';
import { LONGLINK_RESOLVED_OPTIONS, HUB_ADAPTER } from '../longlink.tokens.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import type { PresenceEvent, PresenceHandle, PresenceMember } from './presence/presence.interface.js';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException } from '../errors/stream-exception.js';
import type { StreamEvent } from '../interfaces/stream-event.interface.js';
import { LonglinkMetrics } from '../metrics/longlink-metrics.js';
import type { HubAdapter } from './hub-adapter.interface.js';
import { HubPublisher } from './hub-publisher.js';
import { checkPublish, checkTopic, hubUnavailable, toHubEvent, type HubPublishOptions } from './hub-records.util.js';
import { DEFAULT_INPUT_DEDUP_WINDOW_MS } from '../longlink.defaults.js';
import { HubTopicRegistry } from './hub-topic.registry.js';
import { HubEpochTracker } from './hub-epoch.tracker.js';
import { HubStreamOpener, type HubStreamOptions } from './hub-stream.opener.js';
import { HubPresenceAccess } from './hub-presence.access.js';

/** The hub adapter's token, also named from here (longlink.tokens.ts holds every token). */
export { HUB_ADAPTER };
export type { HubResetReason, HubPublishOptions } from './hub-records.util.js';
export { PRESENCE_DEFAULTS } from './hub-presence.access.js';
export type { HubStreamOptions } from './hub-stream.opener.js';

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
  private readonly topics: HubTopicRegistry;
  private readonly epochs: HubEpochTracker;
  private readonly opener: HubStreamOpener;
  private readonly presenceAccess: HubPresenceAccess;
  private started: Promise<void> | undefined;
  private readonly publisher: HubPublisher;

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
    this.topics = new HubTopicRegistry(
      adapter,
      () => this.start(),
      (record, epoch) => toHubEvent(record, epoch, this.logger, adapter.ownRecords),
    );
    this.epochs = new HubEpochTracker(adapter, this.topics, this.logger);
    this.publisher = new HubPublisher(
      adapter,
      this.epochs,
      () => this.start(),
      (code) => this.metrics?.hubPublished(this.adapterName, code),
      (error, what) => {
        const exception = this.unavailable(error, what);
        if (exception.code === StreamErrorCode.UNAVAILABLE) this.metrics?.hubError(this.adapterName, 'publish');
        return exception;
      },
    );
    this.opener = new HubStreamOpener(adapter, this.topics, this.epochs, this.logger, () => this.metrics?.hubError(this.adapterName, 'subscribe'));
    this.presenceAccess = new HubPresenceAccess(
      adapter,
      options?.hub.presence,
      this.logger,
      () => this.start(),
      (topic, data) => this.publisher.append(topic, data),
      this.opener,
    );
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
    await this.presenceAccess.close();
    await this.adapter.close();
  }

  /**
   * Publishes `data` (serialised here, once) to `topic`. Resolves with the event id once it
   * is stored; rejects with `UNAVAILABLE` when the store cannot be reached (if the connection
   * drops mid-publish the outcome is unknown: the event may have been stored), `BAD_REQUEST`
   * for a bad topic (1 to 200 of `A-Z a-z 0-9 : . _ ~ - /`; names ending in `:presence` are the
   * hub's own) or data that is not JSON-serialisable. Subscribers get the event with this id,
   * once, in publish order (PROTOCOL.md §6.4). With `idempotencyKey`, a repeated key is
   * stored and delivered once: the repeat resolves with the first publish's event id.
   */
  publish<T = unknown>(topic: string, data: T, options?: HubPublishOptions): Promise<string> {
    // Not `async`: returning append's promise from an async function would cost two more
    // promise jobs per publish. A bad topic or key still rejects rather than throws.
    const key = options?.idempotencyKey;
    try {
      checkPublish(topic, key, this.adapter.idempotentPublish === true, this.adapterName);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.publisher.append(
      topic,
      data,
      key === undefined ? undefined : { key, ttlMs: this.options?.input.dedupWindowMs ?? DEFAULT_INPUT_DEDUP_WINDOW_MS },
    );
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
    return this.opener.open(topic, options.lastEventId, history, undefined) as Observable<StreamEvent<T>>;
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
      this.epochs.observeEpoch(epoch);
      const events: StreamEvent<T>[] = [];
      for (const record of records) {
        const event = toHubEvent(record, epoch, this.logger, this.adapter.ownRecords);
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
  track<M = unknown>(topic: string, key: string, meta: M, options: { signal?: AbortSignal } = {}): Promise<PresenceHandle<M>> {
    return this.presenceAccess.track(topic, key, meta, options);
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
    return this.presenceAccess.withPresence(topic, key, meta, onTracked);
  }

  /**
   * `topic`'s presence now: its members, each a key with one meta per tracked connection.
   * Rejects with `UNAVAILABLE` when the store cannot be reached.
   */
  presence<M = unknown>(topic: string): Promise<PresenceMember<M>[]> {
    return this.presenceAccess.list<M>(topic);
  }

  /**
   * `topic`'s presence as a stream (PROTOCOL.md §6.5): a `state` event (the member list), then
   * `diff` events (joins and leaves, by ref). Resumable like any hub topic: with `lastEventId`
   * it continues with the diffs after it; after any reset notice a fresh `state` follows.
   */
  presenceStream<M = unknown>(topic: string, options: { lastEventId?: string } = {}): Observable<StreamEvent<PresenceEvent<M>>> {
    return this.presenceAccess.stream<M>(topic, options.lastEventId);
  }

  private start(): Promise<void> {
    this.started ??= this.adapter
      .start({
        message: (topic, epoch, record) => this.publisher.inbox.receive(topic, epoch, record),
        disconnected: () => {
          this.setConnected(false);
          this.epochs.onDisconnected();
        },
        reconnected: () => {
          this.setConnected(true);
          this.epochs.onReconnected();
        },
      })
      .then(() => this.epochs.confirmEpoch())
      // Entries of an instance that is gone are swept even before this one uses presence.
      .then(() => this.presenceAccess.startSweeping())
      .then(() => {
        this.publisher.running = true;
      })
      .catch((error: unknown) => {
        this.started = undefined; // try again next time
        throw error;
      });
    return this.started;
  }

  private unavailable(error: unknown, what: string): StreamException {
    return hubUnavailable(error, what, this.logger);
  }
}
