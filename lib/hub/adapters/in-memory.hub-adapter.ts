import { randomBytes } from 'node:crypto';
import type { HubAdapter, HubAdapterEvents, HubHistory, HubRecord } from '../hub-adapter.interface.js';

interface Topic {
  records: (HubRecord & { at: number })[];
  /** Highest sequence number trimmed away (0: none). */
  trimmed: number;
  seq: number;
}

/**
 * The default adapter: history in this process's memory, delivery within this process.
 * Bounded by `historySize` records (and `historyMaxAgeMs`) per topic, plus up to 1/8 more
 * waiting for the next batched trim (never visible: reads trim exactly).
 *
 * @publicApi
 */
export class InMemoryHubAdapter implements HubAdapter {
  readonly origin = '0';
  private readonly topics = new Map<string, Topic>();
  private readonly subscribed = new Set<string>();
  private readonly currentEpoch = randomBytes(4).toString('hex');
  private events: HubAdapterEvents | undefined;

  /**
   * @param maxTopics Topics kept at most; the least recently published are forgotten (a
   *   resume on them then gets an `unknown` reset).
   */
  constructor(
    private readonly historySize: number,
    private readonly historyMaxAgeMs: number,
    private readonly maxTopics = 10_000,
  ) {}

  async start(events: HubAdapterEvents): Promise<void> {
    this.events = events;
  }

  async epoch(): Promise<string> {
    return this.currentEpoch;
  }

  async publish(topic: string, json: string): Promise<{ epoch: string; record: HubRecord }> {
    let t = this.topics.get(topic);
    if (t) this.topics.delete(topic); // re-inserted below: Map order is recency of publishing
    else t = { records: [], trimmed: 0, seq: 0 };
    this.topics.set(topic, t);
    if (this.topics.size > this.maxTopics) this.topics.delete(this.topics.keys().next().value as string);
    const record = { position: String(++t.seq), json, at: Date.now() };
    t.records.push(record);
    // Trimmed in batches (history() trims exactly): one splice per 1/8 of the history, not one per publish.
    if (t.records.length >= this.historySize + Math.max(16, this.historySize >> 3)) this.trim(t);
    else if (this.historyMaxAgeMs > 0 && t.records[0]!.at < record.at - this.historyMaxAgeMs - 1000) this.trim(t);
    if (this.subscribed.has(topic)) this.events?.message(topic, this.currentEpoch, record);
    return { epoch: this.currentEpoch, record };
  }

  async history(topic: string, position: string): Promise<HubHistory> {
    const t = this.topics.get(topic);
    if (t) this.trim(t);
    const seq = Number(position);
    const epoch = this.currentEpoch;
    if (!t || seq > t.seq) return { epoch, kind: 'gap', reason: 'unknown', latest: t ? String(t.seq) : undefined };
    if (seq < t.trimmed) return { epoch, kind: 'gap', reason: 'too-old', latest: String(t.seq) };
    return { epoch, kind: 'complete', records: t.records.filter((r) => Number(r.position) > seq) };
  }

  async latest(topic: string): Promise<string | undefined> {
    const t = this.topics.get(topic);
    return t && t.seq > 0 ? String(t.seq) : undefined;
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
    if (drop > 0) {
      t.trimmed = Number(t.records[drop - 1]!.position);
      t.records.splice(0, drop);
    }
  }
}
