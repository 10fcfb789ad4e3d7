import type { InputDedupStore } from '../core/input/input-dedup.store.js';
import type { InputForwarder } from '../core/input/input-forwarder.interface.js';
import type { PresenceStore } from './presence/presence-store.interface.js';

/** One stored event of a topic, as an adapter keeps it. */
export interface HubRecord {
  /** Position in the topic's history, comparable with the adapter's `compare()`. */
  position: string;
  /** The event's data as JSON, serialised once by the publisher. */
  json: string;
}

/** An idempotent publish: the key, remembered per topic for `ttlMs`. */
export interface HubIdempotency {
  key: string;
  ttlMs: number;
}

/** A publish's outcome: its epoch and record; `duplicate` when its idempotency key was used before (nothing was stored, `record` is the earlier publish's position). */
export interface HubPublished {
  epoch: string;
  record: HubRecord;
  duplicate?: boolean;
}

/** What an adapter knows about resuming after a position. */
export type HubHistory = {
  /** The store's epoch when the history was read. */
  epoch: string;
} &
  /** The position is inside the history: these are all the records after it, in order. */
  (
    | { kind: 'complete'; records: HubRecord[] }
    /** The records after the position are not all there any more (trimmed, expired) or it is unknown. */
    | { kind: 'gap'; reason: 'too-old' | 'unknown'; latest: string | undefined }
  );

/** What an adapter tells the hub. */
export interface HubAdapterEvents {
  /** A record was published to `topic` (on any instance), under `epoch`. */
  message(topic: string, epoch: string, record: HubRecord): void;
  /** Live delivery stopped (connection lost): records published from now on may be missed. */
  disconnected(): void;
  /** The connection to the store came back: the hub catches up on what it missed. */
  reconnected(): void;
}

/**
 * Where a hub keeps topic history and how publishes reach every instance. The hub core
 * never imports a broker library; adapters do.
 *
 * @publicApi
 */
export interface HubAdapter {
  /** A position before every record of any topic. */
  readonly origin: string;
  /**
   * Every record is one this process's `StreamHub.publish` made (the in-memory adapter): its
   * JSON came from `JSON.stringify` and its position from the adapter itself. The hub then
   * neither parses the JSON back (an event's `data` is parsed only when something reads it)
   * nor checks the position. Otherwise (a shared store, which anything may write to) each
   * record is parsed and checked on arrival, and a malformed one is dropped.
   */
  readonly ownRecords?: boolean;
  /** Starts the adapter (without waiting for the store); `events` receives every publish on subscribed topics. */
  start(events: HubAdapterEvents): Promise<void>;
  /**
   * The history store's epoch: changes when its data was lost (e.g. a broker restart without
   * persistence). `fresh`: read it from the store rather than from a cache.
   */
  epoch(fresh?: boolean): Promise<string>;
  /**
   * Appends a record; resolves with its epoch and position. Rejects if the store is unreachable.
   * With `idempotency` (only called so when {@link idempotentPublish} is true): atomically, if
   * the key was used on this topic within its window, stores and delivers nothing and resolves
   * with the earlier publish's epoch and position and `duplicate: true`.
   */
  publish(topic: string, json: string, idempotency?: HubIdempotency): Promise<HubPublished>;
  /** Whether {@link publish} honours idempotency keys (`hub.publish(..., { idempotencyKey })` refuses them otherwise). */
  readonly idempotentPublish?: boolean;
  /** Records after `position` (exclusive), or a gap. */
  history(topic: string, position: string): Promise<HubHistory>;
  /**
   * A topic's newest records, up to `limit` (at most the history size), oldest first, with
   * the store's epoch, read at once.
   */
  recent(topic: string, limit: number): Promise<{ epoch: string; records: HubRecord[] }>;
  /** Position of the newest record of a topic, if any. */
  latest(topic: string): Promise<string | undefined>;
  /** Starts delivering `topic`'s publishes to `events.message`. */
  subscribe(topic: string): Promise<void>;
  unsubscribe(topic: string): Promise<void>;
  /** Orders two positions of the same epoch: negative, 0, positive. */
  compare(a: string, b: string): number;
  /** Whether `position` is well formed for this adapter. */
  isPosition(position: string): boolean;
  close(): Promise<void>;
  /**
   * Where presence entries are kept, with entries expiring `ttlMs` after their last refresh.
   * Absent: in this process's memory (one instance).
   */
  presenceStore?(ttlMs: number): PresenceStore;
  /**
   * A store of acked client message ids shared by every instance (two-way streams, PROTOCOL.md
   * §7.1). Absent: in this process's memory.
   */
  inputDedup?(windowMs: number): InputDedupStore;
  /**
   * Carries client messages addressed by channel to the instance holding the channel (SSE
   * POST without sticky sessions, PROTOCOL.md §7.4), answering within `timeoutMs`. Absent: one
   * instance, every channel is local.
   */
  inputForwarder?(timeoutMs: number): InputForwarder;
  /** Checks that the store answers (health checks); rejects if it does not. Absent: always reachable (in memory). */
  ping?(): Promise<void>;
}
