import type { Logger } from '@nestjs/common';
import { Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { holdOpenUntil } from '../core/open-barrier.js';
import type { StreamEvent } from '../interfaces/stream-event.interface.js';
import type { HubAdapter } from './hub-adapter.interface.js';
import { HubPresence } from './presence/hub-presence.js';
import { InMemoryPresenceStore } from './presence/in-memory.presence-store.js';
import type { PresenceEvent, PresenceHandle, PresenceMember, PresenceOptions } from './presence/presence.interface.js';
import type { HubStreamOpener } from './hub-stream.opener.js';
import { PRESENCE_SUFFIX, checkTopic, hubUnavailable } from './hub-records.util.js';

/** Presence defaults (`hub.presence`). */
export const PRESENCE_DEFAULTS: Required<PresenceOptions> = {
  ttlMs: 15_000,
  graceMs: 3000,
  maxMembers: 10_000,
  maxMetaBytes: 1024,
  maxUpdatesPerSecond: 10,
};

/**
 * The hub's presence API over {@link HubPresence}: made on first use (or at start when the
 * adapter keeps presence in the store), its diffs published to `<topic>:presence`, its stream
 * opened like any hub topic with a `state` snapshot in place of history.
 */
export class HubPresenceAccess {
  private state: HubPresence | undefined;

  constructor(
    private readonly adapter: HubAdapter,
    private readonly options: PresenceOptions | undefined,
    private readonly logger: Logger,
    /** Starts the hub (once). */
    private readonly start: () => Promise<void>,
    /** Stores an event on a topic (the hub's publish, without its reserved-name check). */
    private readonly append: (topic: string, data: unknown) => Promise<string>,
    private readonly opener: HubStreamOpener,
  ) {}

  /** Starts sweeping expired entries of instances that are gone, when the store keeps presence. */
  startSweeping(): void {
    if (this.adapter.presenceStore) void this.presence().start();
  }

  /** Stops refreshing and sweeping (shutdown). */
  async close(): Promise<void> {
    await this.state?.close();
  }

  /** See `StreamHub.track`. */
  async track<M>(topic: string, key: string, meta: M, options: { signal?: AbortSignal }): Promise<PresenceHandle<M>> {
    checkTopic(topic);
    checkTopic(`${topic}${PRESENCE_SUFFIX}`);
    const presence = await this.ready();
    try {
      return await presence.track(topic, key, meta, options.signal);
    } catch (error) {
      throw hubUnavailable(error, `presence in "${topic}"`, this.logger);
    }
  }

  /** See `StreamHub.withPresence`. */
  withPresence<E, M>(topic: string, key: string, meta: M, onTracked?: (handle: PresenceHandle<M>) => void): MonoTypeOperatorFunction<E> {
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

  /** See `StreamHub.presence`. */
  async list<M>(topic: string): Promise<PresenceMember<M>[]> {
    checkTopic(topic);
    const presence = await this.ready();
    try {
      return (await presence.list(topic)) as PresenceMember<M>[];
    } catch (error) {
      throw hubUnavailable(error, `presence of "${topic}"`, this.logger);
    }
  }

  /** See `StreamHub.presenceStream`. */
  stream<M>(topic: string, lastEventId: string | undefined): Observable<StreamEvent<PresenceEvent<M>>> {
    checkTopic(topic);
    const diffs = `${topic}${PRESENCE_SUFFIX}`;
    checkTopic(diffs);
    return this.opener.open(diffs, lastEventId, 0, async () => {
      const presence = await this.ready();
      // The newest diff first, then the members: a diff the list does not show is newer (PROTOCOL.md §6.5).
      const { epoch, records } = await this.adapter.recent(diffs, 1);
      const members = await presence.list(topic);
      return { epoch, position: records[0]?.position, data: { type: 'state', members } satisfies PresenceEvent };
    }) as Observable<StreamEvent<PresenceEvent<M>>>;
  }

  private async ready(): Promise<HubPresence> {
    await this.start();
    return this.presence();
  }

  private presence(): HubPresence {
    if (!this.state) {
      const options = { ...PRESENCE_DEFAULTS, ...this.options };
      const store = this.adapter.presenceStore?.(options.ttlMs) ?? new InMemoryPresenceStore();
      this.state = new HubPresence(store, (topic, event) => this.append(`${topic}${PRESENCE_SUFFIX}`, event), options, this.logger);
    }
    return this.state;
  }
}
