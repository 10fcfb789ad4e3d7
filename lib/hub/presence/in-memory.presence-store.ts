import type { PresenceEntry, PresenceStore } from './presence-store.interface.js';

/** Presence within one process: entries live until they leave (or the process ends). */
export class InMemoryPresenceStore implements PresenceStore {
  readonly ttlMs = undefined;
  private readonly topics = new Map<string, Map<string, PresenceEntry>>();

  async join(entry: PresenceEntry, maxMembers: number): Promise<boolean> {
    let entries = this.topics.get(entry.topic);
    if (!entries) this.topics.set(entry.topic, (entries = new Map<string, PresenceEntry>()));
    if (!entries.has(entry.ref) && entries.size >= maxMembers) return false;
    entries.set(entry.ref, { ...entry });
    return true;
  }

  async update(entry: PresenceEntry): Promise<string | undefined> {
    const stored = this.topics.get(entry.topic)?.get(entry.ref);
    if (!stored) return undefined;
    const previous = stored.json;
    stored.json = entry.json;
    return previous;
  }

  async leave(topic: string, ref: string): Promise<PresenceEntry | undefined> {
    const entries = this.topics.get(topic);
    const entry = entries?.get(ref);
    if (!entries || !entry) return undefined;
    entries.delete(ref);
    if (entries.size === 0) this.topics.delete(topic);
    return entry;
  }

  async list(topic: string): Promise<PresenceEntry[]> {
    return [...(this.topics.get(topic)?.values() ?? [])].map((e) => ({ ...e }));
  }

  async refresh(): Promise<PresenceEntry[]> {
    return [];
  }

  async sweep(): Promise<PresenceEntry[]> {
    return [];
  }

  async release(entries: PresenceEntry[]): Promise<void> {
    for (const e of entries) await this.leave(e.topic, e.ref);
  }

  async hasEntries(): Promise<boolean> {
    return this.topics.size > 0;
  }
}
