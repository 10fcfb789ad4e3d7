/**
 * The idempotency keys of an in-memory hub's publishes (`hub.publish(topic, data, {
 * idempotencyKey })`): per topic and key, the position of the publish that used it, until its
 * window ends. Bounded by count: past `maxKeys` the oldest keys are forgotten first (a publish
 * with a forgotten key is stored again). Insertion order is expiry order when every publish
 * uses the same window; expired keys are dropped as they are met.
 */
export class IdempotencyKeys {
  private readonly keys = new Map<string, { position: string; expires: number }>();

  constructor(
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keys remembered. */
  get size(): number {
    return this.keys.size;
  }

  private static id(topic: string, key: string): string {
    return `${topic}\n${key}`;
  }

  /** The position published under `key` to `topic` within its window, if any. */
  get(topic: string, key: string): string | undefined {
    const id = IdempotencyKeys.id(topic, key);
    const entry = this.keys.get(id);
    if (!entry) return undefined;
    if (entry.expires > this.now()) return entry.position;
    this.keys.delete(id);
    return undefined;
  }

  set(topic: string, key: string, position: string, ttlMs: number): void {
    const now = this.now();
    const id = IdempotencyKeys.id(topic, key);
    this.keys.delete(id);
    this.keys.set(id, { position, expires: now + ttlMs });
    for (const [oldest, entry] of this.keys) {
      if (this.keys.size <= this.maxKeys && entry.expires > now) break;
      this.keys.delete(oldest);
    }
  }
}
