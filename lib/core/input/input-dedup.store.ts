/**
 * Remembers the ids of client messages a server acked, per scope (a stream and a channel), so
 * that a resent message is acked again without reaching the handler twice (PROTOCOL.md §7.1).
 * Methods may answer synchronously (in memory) or with a Promise (shared stores).
 */
export interface InputDedupStore {
  /** Whether `id` was recorded for `scope` within the window. */
  seen(scope: string, id: string): boolean | Promise<boolean>;
  /** Records `id` for `scope`; resolves once it is durable enough to ack. */
  record(scope: string, id: string): void | Promise<void>;
}

/**
 * The in-memory store: per scope, ids in insertion order with their expiry; scopes in order of
 * last use. Bounded by count (per scope and in total), so memory stays bounded whatever clients
 * send; expired ids are dropped when they are met.
 *
 * Hand-written: an LRU of LRUs with two count bounds and a time window is a few lines on Map's
 * insertion order; no library in our dependencies does both bounds.
 */
export class InMemoryInputDedup implements InputDedupStore {
  private readonly scopes = new Map<string, Map<string, number>>();
  private total = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxPerScope: number,
    private readonly maxTotal: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Ids remembered in total. */
  get size(): number {
    return this.total;
  }

  seen(scope: string, id: string): boolean {
    const ids = this.scopes.get(scope);
    const expires = ids?.get(id);
    if (expires === undefined) return false;
    if (expires > this.now()) return true;
    ids!.delete(id);
    this.total--;
    if (ids!.size === 0) this.scopes.delete(scope);
    return false;
  }

  record(scope: string, id: string): void {
    let ids = this.scopes.get(scope);
    if (ids)
      this.scopes.delete(scope); // re-inserted below: most recently used last
    else ids = new Map();
    this.scopes.set(scope, ids);
    if (ids.delete(id)) this.total--;
    ids.set(id, this.now() + this.windowMs);
    this.total++;
    if (ids.size > this.maxPerScope) this.dropOldest(scope, ids);
    while (this.total > this.maxTotal) {
      const [oldestScope, oldestIds] = this.scopes.entries().next().value as [string, Map<string, number>];
      this.dropOldest(oldestScope, oldestIds);
    }
  }

  private dropOldest(scope: string, ids: Map<string, number>): void {
    const first = ids.keys().next().value as string;
    ids.delete(first);
    this.total--;
    if (ids.size === 0) this.scopes.delete(scope);
  }
}
