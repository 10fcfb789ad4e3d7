import { randomBytes } from 'node:crypto';
import { DEFAULT_HUB_MAX_HISTORY_BYTES, DEFAULT_HUB_MAX_IDEMPOTENCY_KEYS, DEFAULT_HUB_MAX_TOPICS } from '../../longlink.defaults.js';
import type { HubAdapter, HubAdapterEvents, HubHistory, HubIdempotency, HubPublished, HubRecord } from '../hub-adapter.interface.js';
import { IdempotencyKeys } from './idempotency-keys.js';

/** One kept event: its position is a number here, made a string only when read. */
interface Stored {
  seq: number;
  json: string;
  at: number;
  /** Bytes counted against the budget. */
  cost: number;
}

interface Topic {
  records: Stored[];
  /** Highest position dropped from this topic's history, or `born` when none was. */
  trimmed: number;
  /** The last position issued (to any topic) before this topic's first record. */
  born: number;
  /** This topic's newest position. */
  last: number;
  /** Bytes counted for the topic: its records, its name and the overhead below. */
  bytes: number;
}

/**
 * Heap bytes a kept record costs besides its JSON (the record object, its slot in the topic's
 * array, the string header), and a topic besides its name and records (its object, array and
 * map entry). Measured on Node 20 (x64): the heap after GC stayed at 79-97% of the count for
 * tiny to 1 KB events, 1 to 1,000 per topic; test/e2e/hub-bounds.spec.ts checks it.
 */
export const HUB_RECORD_OVERHEAD_BYTES = 128;
export const HUB_TOPIC_OVERHEAD_BYTES = 384;

/** A character that makes V8 store a string with 2 bytes per character. */
const WIDE = /[\u0100-\uffff]/;

/** Bytes a JSON string takes on the heap (its characters; the header is in the overhead). */
function stringBytes(s: string): number {
  return WIDE.test(s) ? s.length * 2 : s.length;
}

/**
 * The default adapter: history in this process's memory, delivery within this process.
 *
 * Bounded three ways: `historySize` records (and `historyMaxAgeMs`) per topic, plus up to 1/8
 * more waiting for the next batched trim (never visible: reads trim exactly); `maxTopics`
 * topics; and `maxHistoryBytes` in all (see {@link HUB_RECORD_OVERHEAD_BYTES}). At either of
 * the last two, the least recently published topic loses its oldest records first, and is
 * forgotten once it has none. Positions are unique across topics, so a forgotten topic that
 * is published to again never reuses one: a resume from its earlier life gets a reset.
 *
 * @publicApi
 */
export class InMemoryHubAdapter implements HubAdapter {
  readonly origin = '0';
  readonly idempotentPublish = true;
  /** Keys of idempotent publishes, at most `DEFAULT_HUB_MAX_IDEMPOTENCY_KEYS` (oldest forgotten first). */
  private readonly idempotency = new IdempotencyKeys(DEFAULT_HUB_MAX_IDEMPOTENCY_KEYS);
  /** Records hold only what `StreamHub.publish` serialised in this process. */
  readonly ownRecords = true;
  /** In order of last publish, least recent first. */
  private readonly topics = new Map<string, Topic>();
  private readonly subscribed = new Set<string>();
  private readonly currentEpoch = randomBytes(4).toString('hex');
  private events: HubAdapterEvents | undefined;
  private seq = 0;
  private bytes = 0;
  /** The topic published to last: already at the end of `topics`' order. */
  private newest: string | undefined;

  /**
   * @param maxTopics Topics kept at most; the least recently published are forgotten (a
   *   resume on them then gets an `unknown` reset).
   * @param maxHistoryBytes Bytes the history of all topics may take; the least recently
   *   published topic's oldest records are dropped first (a resume then gets a reset).
   */
  constructor(
    private readonly historySize: number,
    private readonly historyMaxAgeMs: number,
    private readonly maxTopics = DEFAULT_HUB_MAX_TOPICS,
    private readonly maxHistoryBytes = DEFAULT_HUB_MAX_HISTORY_BYTES,
  ) {}

  /** Bytes currently counted against `maxHistoryBytes`. */
  get historyBytes(): number {
    return this.bytes;
  }

  async start(events: HubAdapterEvents): Promise<void> {
    this.events = events;
  }

  async epoch(): Promise<string> {
    return this.currentEpoch;
  }

  async publish(topic: string, json: string, idempotency?: HubIdempotency): Promise<HubPublished> {
    // Checked and recorded in the same synchronous run as the append: atomic in this process.
    if (idempotency) {
      const position = this.idempotency.get(topic, idempotency.key);
      if (position !== undefined) return { epoch: this.currentEpoch, record: { position, json }, duplicate: true };
    }
    let t = this.topics.get(topic);
    if (t === undefined) {
      t = { records: [], trimmed: this.seq, born: this.seq, last: 0, bytes: HUB_TOPIC_OVERHEAD_BYTES + topic.length };
      this.bytes += t.bytes;
      this.topics.set(topic, t);
    } else if (topic !== this.newest) {
      // Moved to the end: Map order is recency of publishing.
      this.topics.delete(topic);
      this.topics.set(topic, t);
    }
    this.newest = topic;
    if (this.topics.size > this.maxTopics) {
      const [oldest, forgotten] = this.topics.entries().next().value as [string, Topic];
      this.forget(oldest, forgotten);
    }
    // The time only matters with a maximum age (without one, no clock read per publish).
    const stored: Stored = {
      seq: ++this.seq,
      json,
      at: this.historyMaxAgeMs > 0 ? Date.now() : 0,
      cost: HUB_RECORD_OVERHEAD_BYTES + stringBytes(json),
    };
    t.last = stored.seq;
    t.records.push(stored);
    t.bytes += stored.cost;
    this.bytes += stored.cost;
    // Trimmed in batches (history() trims exactly): one splice per 1/8 of the history, not one per publish.
    if (t.records.length >= this.historySize + Math.max(16, this.historySize >> 3)) this.trim(t);
    else if (this.historyMaxAgeMs > 0 && t.records[0]!.at < stored.at - this.historyMaxAgeMs - 1000) this.trim(t);
    if (this.bytes > this.maxHistoryBytes) this.evict();
    const record = { position: String(stored.seq), json };
    if (idempotency) this.idempotency.set(topic, idempotency.key, record.position, idempotency.ttlMs);
    if (this.subscribed.has(topic)) this.events?.message(topic, this.currentEpoch, record);
    return { epoch: this.currentEpoch, record };
  }

  async history(topic: string, position: string): Promise<HubHistory> {
    const t = this.topics.get(topic);
    if (t) this.trim(t);
    const seq = Number(position);
    const epoch = this.currentEpoch;
    if (!t || seq > t.last) return { epoch, kind: 'gap', reason: 'unknown', latest: t ? String(t.last) : undefined };
    // Before the oldest kept record; the origin only when nothing of this topic was dropped.
    const fromStart = seq === 0 && t.trimmed === t.born;
    if (seq < t.trimmed && !fromStart) return { epoch, kind: 'gap', reason: 'too-old', latest: String(t.last) };
    const records: HubRecord[] = [];
    for (const r of t.records) if (r.seq > seq) records.push({ position: String(r.seq), json: r.json });
    return { epoch, kind: 'complete', records };
  }

  async recent(topic: string, limit: number): Promise<{ epoch: string; records: HubRecord[] }> {
    const t = this.topics.get(topic);
    if (t) this.trim(t);
    const count = Math.min(Math.max(0, Math.floor(limit)), this.historySize);
    const kept = t && count > 0 ? t.records.slice(-count) : [];
    return { epoch: this.currentEpoch, records: kept.map((r) => ({ position: String(r.seq), json: r.json })) };
  }

  async latest(topic: string): Promise<string | undefined> {
    const t = this.topics.get(topic);
    return t ? String(t.last) : undefined;
  }

  async subscribe(topic: string): Promise<void> {
    this.subscribed.add(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.subscribed.delete(topic);
  }

  compare(a: string, b: string): number {
    return Number(a) - Number(b);
  }

  isPosition(position: string): boolean {
    return /^\d{1,15}$/.test(position);
  }

  async close(): Promise<void> {
    this.subscribed.clear();
  }

  private trim(t: Topic): void {
    const cutoff = this.historyMaxAgeMs > 0 ? Date.now() - this.historyMaxAgeMs : 0;
    let drop = Math.max(0, t.records.length - this.historySize);
    while (drop < t.records.length && t.records[drop]!.at < cutoff) drop++;
    this.dropOldest(t, drop);
  }

  /** Over the byte budget: the least recently published topics lose their oldest records. */
  private evict(): void {
    for (const [name, t] of this.topics) {
      if (this.bytes <= this.maxHistoryBytes) return;
      let drop = 0;
      let freed = 0;
      while (drop < t.records.length && this.bytes - freed > this.maxHistoryBytes) freed += t.records[drop++]!.cost;
      if (drop === t.records.length) this.forget(name, t);
      else this.dropOldest(t, drop);
    }
  }

  private dropOldest(t: Topic, count: number): void {
    if (count <= 0) return;
    let freed = 0;
    for (let i = 0; i < count; i++) freed += t.records[i]!.cost;
    t.trimmed = t.records[count - 1]!.seq;
    t.records.splice(0, count);
    t.bytes -= freed;
    this.bytes -= freed;
  }

  private forget(name: string, t: Topic): void {
    this.topics.delete(name);
    this.bytes -= t.bytes;
  }
}
