import type { Cluster } from 'ioredis';
import type { PresenceEntry, PresenceStore } from './presence-store.interface.js';
import { PRESENCE_RELEASE } from './redis-presence.scripts.js';
import { INDEX_ADD, INDEX_REFRESH, INDEX_SWEEP, TOPIC_JOIN, TOPIC_PUT, TOPIC_TAKE, TOPIC_UPDATE } from './redis-cluster-presence.scripts.js';

/** Entries per index command. */
const BATCH = 500;

/** The names the store needs (redis-keys.ts). */
interface PresenceKeys {
  prefix: string;
  presence(topic: string): string;
  stream(topic: string): string;
  watermark(topic: string): string;
}

function parseValue(topic: string, ref: string, value: string): PresenceEntry {
  const nl = value.indexOf('\n');
  return { topic, ref, key: value.slice(0, nl), json: value.slice(nl + 1) };
}

/**
 * Presence on a Redis Cluster: the expiry index in its own slot, each topic's entries in the slot
 * of its diff topic, each operation as two single-slot scripts. The order keeps readers right: an
 * entry counts only while its index member exists, so a join adds the member first and a leave or
 * a sweep removes it first; `list()` reads the entries, then keeps those whose member exists.
 * What it cannot give (a single Redis can): if an instance dies between a sweep's two steps, the
 * swept entries stay in their topic's hash, unlisted, until it expires (3 × TTL after the topic's
 * last refresh), and their leave diff is never sent (a watcher that saw them join keeps them
 * until it resyncs).
 */
export class RedisClusterPresenceStore implements PresenceStore {
  private readonly index: string;

  constructor(
    private readonly client: () => Cluster,
    private readonly keys: PresenceKeys,
    readonly ttlMs: number,
  ) {
    this.index = `${keys.prefix}presence`;
  }

  private run(script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.client().eval(script, keys.length, ...keys, ...args);
  }

  /** A topic's hash and its diff topic's stream and watermark (one slot). */
  private topicKeys(topic: string): string[] {
    const diffs = `${topic}:presence`;
    return [this.keys.presence(topic), this.keys.stream(diffs), this.keys.watermark(diffs)];
  }

  async join(e: PresenceEntry, maxMembers: number): Promise<boolean> {
    const member = `${e.topic}\n${e.ref}`;
    await this.run(INDEX_ADD, [this.index], [this.ttlMs, member]);
    const added = await this.run(TOPIC_JOIN, this.topicKeys(e.topic), [e.ref, `${e.key}\n${e.json}`, this.ttlMs, maxMembers]);
    if (added === 1) return true;
    await this.client().zrem(this.index, member);
    return false;
  }

  async update(e: PresenceEntry): Promise<string | undefined> {
    if ((await this.client().zscore(this.index, `${e.topic}\n${e.ref}`)) === null) return undefined;
    const previous = await this.run(TOPIC_UPDATE, [this.keys.presence(e.topic)], [e.ref, `${e.key}\n${e.json}`]);
    return typeof previous === 'string' ? parseValue(e.topic, e.ref, previous).json : undefined;
  }

  async leave(topic: string, ref: string): Promise<PresenceEntry | undefined> {
    await this.client().zrem(this.index, `${topic}\n${ref}`);
    const value = await this.run(TOPIC_TAKE, [this.keys.presence(topic)], [ref]);
    return typeof value === 'string' ? parseValue(topic, ref, value) : undefined;
  }

  async list(topic: string): Promise<PresenceEntry[]> {
    const all = await this.client().hgetall(this.keys.presence(topic));
    const refs = Object.keys(all);
    if (refs.length === 0) return [];
    // Entries without an index member are being removed (or were swept by an instance that died): not listed.
    const scores: (string | null)[] = [];
    for (let i = 0; i < refs.length; i += BATCH) {
      const members = refs.slice(i, i + BATCH).map((ref) => `${topic}\n${ref}`);
      scores.push(...((await this.client().call('ZMSCORE', this.index, ...members)) as (string | null)[]));
    }
    return refs.filter((_, i) => scores[i] !== null).map((ref) => parseValue(topic, ref, all[ref]!));
  }

  async refresh(entries: PresenceEntry[]): Promise<PresenceEntry[]> {
    const back: PresenceEntry[] = [];
    for (let i = 0; i < entries.length; i += BATCH) {
      const batch = entries.slice(i, i + BATCH);
      const gone = (await this.run(INDEX_REFRESH, [this.index], [this.ttlMs, ...batch.map((e) => `${e.topic}\n${e.ref}`)])) as number[];
      back.push(...gone.map((n) => batch[n - 1]!));
    }
    // Each topic's keys live on; entries that were swept are stored again, then listed again.
    const byTopic = new Map<string, PresenceEntry[]>();
    for (const e of entries) if (!byTopic.has(e.topic)) byTopic.set(e.topic, []);
    for (const e of back) byTopic.get(e.topic)!.push(e);
    for (const [topic, put] of byTopic) {
      await this.run(TOPIC_PUT, this.topicKeys(topic), [this.ttlMs, ...put.flatMap((e) => [e.ref, `${e.key}\n${e.json}`])]);
    }
    for (const e of back) await this.run(INDEX_ADD, [this.index], [this.ttlMs, `${e.topic}\n${e.ref}`]);
    return back;
  }

  async sweep(limit: number): Promise<PresenceEntry[]> {
    const expired = (await this.run(INDEX_SWEEP, [this.index], [limit])) as string[];
    const entries: PresenceEntry[] = [];
    for (const member of expired) {
      const nl = member.indexOf('\n');
      if (nl === -1) continue;
      const [topic, ref] = [member.slice(0, nl), member.slice(nl + 1)];
      const value = await this.run(TOPIC_TAKE, [this.keys.presence(topic)], [ref]);
      if (typeof value === 'string') entries.push(parseValue(topic, ref, value));
    }
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
