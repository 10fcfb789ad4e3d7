/** One tracked connection of a member: its entry's ref and the app's metadata. */
export interface PresenceMeta<M = unknown> {
  /** Opaque id of the entry (one per tracked connection), unique across instances. */
  ref: string;
  meta: M;
}

/** A member of a topic's presence: a key (e.g. a user id) and one meta per tracked connection. */
export interface PresenceMember<M = unknown> {
  key: string;
  metas: PresenceMeta<M>[];
}

/**
 * An event of a presence stream (PROTOCOL.md §6.5): the whole member list (`state`), or what
 * changed (`diff`: apply `leaves`, then `joins`, by `ref`).
 */
export type PresenceEvent<M = unknown> =
  { type: 'state'; members: PresenceMember<M>[] } | { type: 'diff'; joins: PresenceMember<M>[]; leaves: PresenceMember<M>[] };

/** A connection tracked in a topic's presence (see `StreamHub.track`). */
export interface PresenceHandle<M = unknown> {
  readonly topic: string;
  readonly key: string;
  readonly ref: string;
  /**
   * Replaces this connection's metadata and broadcasts the change as a diff. Rejects with
   * `RESOURCE_EXHAUSTED` past `maxUpdatesPerSecond` or `maxMetaBytes`, `BAD_REQUEST` for
   * metadata that is not JSON, `CONFLICT` once the handle has left.
   */
  update(meta: M): Promise<void>;
  /** Leaves the presence (after the grace window). Also done when the tracking signal aborts. */
  leave(): void;
}

export type { PresenceOptions } from '../../interfaces/longlink-options.interface.js';
