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
  | { type: 'state'; members: PresenceMember<M>[] }
  | { type: 'diff'; joins: PresenceMember<M>[]; leaves: PresenceMember<M>[] };

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

/** Presence options (`hub.presence`). */
export interface PresenceOptions {
  /**
   * Redis: an entry expires this long after its instance last refreshed it (every `ttlMs / 3`);
   * a killed instance's members leave within 2 × `ttlMs`. Default 15000.
   */
  ttlMs?: number;
  /** A closed connection leaves this long after (a reconnect within it does not flap). Default 3000. */
  graceMs?: number;
  /** Metas (tracked connections) per topic at most. Default 10000. */
  maxMembers?: number;
  /** JSON bytes of one meta at most. Default 1024. */
  maxMetaBytes?: number;
  /** Updates per tracked connection and second at most. Default 10. */
  maxUpdatesPerSecond?: number;
}
