import type { Redis } from 'ioredis';
import type { PresenceEntry, PresenceStore } from './presence-store.interface.js';
import {
  PRESENCE_JOIN,
  PRESENCE_LEAVE,
  PRESENCE_LIST,
  PRESENCE_REFRESH,
  PRESENCE_RELEASE,
  PRESENCE_SWEEP,
  PRESENCE_UPDATE,
} from './redis-presence.scripts.js';

/** Entries per refresh or release command. */
const BATCH = 500;

/** Splits a stored value `<key>\n<json>`. */
function parseValue(topic: string, ref: string, value: string): PresenceEntry {
  const nl = value.indexOf('\n');
  return { topic, ref, key: value.slice(0, nl), json: value.slice(nl + 1) };
}

/**
 * Presence in Redis: entries with an expiry that their instance refreshes (see
 * redis-presence.scripts.ts for the keys). Every script runs on Redis' clock.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly index: string;

  private readonly prefix: string;

  constructor(
    private readonly client: () => Redis,
    keys: { prefix: string },
    readonly ttlMs: number,
  ) {
    this.prefix = keys.prefix;
    this.index = `${this.prefix}presence`;
  }

  private hash(topic: string): string {
    return `${this.prefix}pm:${topic}`;
  }

  private run(script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.client().eval(script, keys.length, ...keys, ...args);
  }

  async join(e: PresenceEntry, maxMembers: number): Promise<boolean> {
    const diffs = `${e.topic}:presence`;
    const keys = [this.hash(e.topic), this.index, `${this.prefix}t:${diffs}`, `${this.prefix}w:${diffs}`];
    const added = await this.run(PRESENCE_JOIN, keys, [e.ref, `${e.key}\n${e.json}`, `${e.topic}\n${e.ref}`, this.ttlMs, maxMembers]);
    return added === 1;
  }

  async update(e: PresenceEntry): Promise<string | undefined> {
    const previous = await this.run(PRESENCE_UPDATE, [this.hash(e.topic), this.index], [e.ref, `${e.key}\n${e.json}`, `${e.topic}\n${e.ref}`]);
    return typeof previous === 'string' ? parseValue(e.topic, e.ref, previous).json : undefined;
  }

  async leave(topic: string, ref: string): Promise<PresenceEntry | undefined> {
    const value = await this.run(PRESENCE_LEAVE, [this.hash(topic), this.index], [ref, `${topic}\n${ref}`]);
    return typeof value === 'string' ? parseValue(topic, ref, value) : undefined;
  }

  async list(topic: string): Promise<PresenceEntry[]> {
    const flat = (await this.run(PRESENCE_LIST, [this.hash(topic), this.index], [topic])) as string[];
    const entries: PresenceEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) entries.push(parseValue(topic, flat[i]!, flat[i + 1]!));
    return entries;
  }

  async refresh(entries: PresenceEntry[]): Promise<PresenceEntry[]> {
    const back: PresenceEntry[] = [];
    for (let i = 0; i < entries.length; i += BATCH) {
      const batch = entries.slice(i, i + BATCH);
      const args = batch.flatMap((e) => [e.topic, e.ref, `${e.key}\n${e.json}`]);
      const flat = (await this.run(PRESENCE_REFRESH, [this.index], [this.ttlMs, this.prefix, ...args])) as string[];
      for (let j = 0; j < flat.length; j += 2) {
        const found = batch.find((e) => e.topic === flat[j] && e.ref === flat[j + 1]);
        if (found) back.push(found);
      }
    }
    return back;
  }

  async sweep(limit: number): Promise<PresenceEntry[]> {
    const flat = (await this.run(PRESENCE_SWEEP, [this.index], [this.prefix, limit])) as string[];
    const entries: PresenceEntry[] = [];
    for (let i = 0; i < flat.length; i += 3) entries.push(parseValue(flat[i]!, flat[i + 1]!, flat[i + 2]!));
    return entries;
  }

  async release(entries: PresenceEntry[], graceMs: number): Promise<void> {
    for (let i = 0; i < entries.length; i += BATCH) {
      const members = entries.slice(i, i + BATCH).map((e) => `${e.topic}\n${e.ref}`);
      await this.run(PRESENCE_RELEASE, [this.index], [graceMs, ...members]);
    }
  }

  async hasEntries(): Promise<boolean> {
    return (await this.client().zcard(this.index)) > 0;
  }
}
