/** One presence entry as a store keeps it: the app's metadata as JSON. */
export interface PresenceEntry {
  topic: string;
  ref: string;
  key: string;
  json: string;
}

/**
 * Where presence entries live: in this process's memory, or in Redis with an expiry that
 * the owning instance refreshes. The hub keeps its own entries too, to refresh and restore them.
 */
export interface PresenceStore {
  /** Entries expire this long after their last refresh; `undefined`: they live with the process. */
  readonly ttlMs: number | undefined;
  /** Adds (or replaces) an entry; `false` when the topic already has `maxMembers` entries. */
  join(entry: PresenceEntry, maxMembers: number): Promise<boolean>;
  /** Replaces an entry's metadata: its previous JSON, or `undefined` when it is gone (swept). */
  update(entry: PresenceEntry): Promise<string | undefined>;
  /** Removes an entry: it, or `undefined` when it was gone already. */
  leave(topic: string, ref: string): Promise<PresenceEntry | undefined>;
  /** A topic's entries. */
  list(topic: string): Promise<PresenceEntry[]>;
  /** Extends these entries' expiry; puts back those that are gone and returns them. */
  refresh(entries: PresenceEntry[]): Promise<PresenceEntry[]>;
  /** Removes up to `limit` expired entries (any instance's) and returns them. */
  sweep(limit: number): Promise<PresenceEntry[]>;
  /** Shutdown: these entries expire in `graceMs` (swept then, unless refreshed by nobody). */
  release(entries: PresenceEntry[], graceMs: number): Promise<void>;
  /** Whether the store holds any entry (a sweep is worth running). */
  hasEntries(): Promise<boolean>;
}
