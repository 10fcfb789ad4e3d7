import type { StreamEvent } from '../interfaces/stream-event.interface.js';
import type { HubAdapter, HubRecord } from './hub-adapter.interface.js';
import type { HubResetReason } from './hub-records.util.js';

/** One subscriber's view of a topic: it receives deliveries in order, without duplicates. */
export interface HubListener {
  deliver(event: StreamEvent, position: string): void;
  /** `position`: where the subscriber now stands (events up to it are not delivered again). */
  reset(reason: HubResetReason, id: string | undefined, position: string | undefined): void;
}

/** A topic this instance listens to: one adapter subscription for all its subscribers. */
export interface HubTopicState {
  listeners: Set<HubListener>;
  ready: Promise<void>;
  /** Position of the last record delivered to the listeners. */
  last: string | undefined;
  /** The topic's newest position when this instance subscribed (catch-up starts there if nothing came since). */
  floor: string | undefined;
  /** While catching up after a reconnect: where from, and live records that arrived meanwhile. */
  catchUp: { from: string; pending: HubRecord[] } | undefined;
}

/**
 * The topics this instance listens to, refcounted by their listeners: the first listener
 * subscribes the adapter to the topic, the last one to leave unsubscribes it. A topic's adapter
 * (un)subscriptions run one after the other, in call order. Delivers a record to a topic's
 * listeners once, in order.
 */
export class HubTopicRegistry {
  private readonly topics = new Map<string, HubTopicState>();
  private readonly topicOps = new Map<string, Promise<void>>();

  constructor(
    private readonly adapter: HubAdapter,
    /** Starts the adapter (once); awaited before the first subscribe. */
    private readonly start: () => Promise<void>,
    private readonly toEvent: (record: HubRecord, epoch: string) => StreamEvent | undefined,
  ) {}

  /** Topics listened to (one upstream each). */
  get size(): number {
    return this.topics.size;
  }

  /** The state of `topic`, if listened to. */
  get(topic: string): HubTopicState | undefined {
    return this.topics.get(topic);
  }

  /** Every listened topic's state. */
  states(): IterableIterator<HubTopicState> {
    return this.topics.values();
  }

  /** Every listened topic with its state. */
  entries(): IterableIterator<[string, HubTopicState]> {
    return this.topics.entries();
  }

  /** Adds `listener` to `topic`, subscribing the adapter to it if it is the first. */
  acquire(topic: string, listener: HubListener): HubTopicState {
    let state = this.topics.get(topic);
    if (!state) {
      const created: HubTopicState = {
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

  /** Removes `listener` from `topic`, unsubscribing the adapter from it if it was the last. */
  release(topic: string, listener: HubListener): void {
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

  /** One record → one event for every local subscriber (serialised once), in order, once. */
  deliver(state: HubTopicState, record: HubRecord, epoch: string): void {
    if (state.last !== undefined && this.adapter.compare(record.position, state.last) <= 0) return;
    const event = this.toEvent(record, epoch);
    if (!event) return;
    state.last = record.position;
    const { listeners } = state;
    if (listeners.size === 1) {
      // One subscriber (the common case): no copy of the set, and only the one there now.
      for (const listener of listeners) {
        listener.deliver(event, record.position);
        break;
      }
      return;
    }
    // A copy: listeners that join during the delivery wait for the next record.
    for (const listener of [...listeners]) listener.deliver(event, record.position);
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
}
