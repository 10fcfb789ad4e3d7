import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException } from '../errors/stream-exception.js';
import type { StreamTicketStore } from '../interfaces/stream-ticket.interface.js';

/** Default largest number of live (used, not yet expired) ticket ids. */
export const DEFAULT_TICKET_STORE_MAX_ENTRIES = 100_000;

/**
 * The default {@link StreamTicketStore}: used ticket ids until they expire, in this process
 * only. Ids sit in a map (the single-use check) and in a min-heap by expiry, so each check
 * forgets what has expired in O(log n) per id forgotten, never walking the whole map.
 *
 * Bounded: past `maxEntries` live ids a new ticket is refused with `UNAVAILABLE` and
 * `details.retryAfterMs` (until the next id expires), never reported as "already used" and
 * never let through by forgetting a live id (which would allow a replay).
 *
 * @publicApi
 */
export class InMemoryTicketStore implements StreamTicketStore {
  private readonly used = new Map<string, number>();
  /** Min-heap by expiry: parallel arrays (no object per entry). */
  private readonly heapExpiry: number[] = [];
  private readonly heapId: string[] = [];

  constructor(private readonly maxEntries = DEFAULT_TICKET_STORE_MAX_ENTRIES) {}

  /** Live ids held now. */
  get size(): number {
    return this.used.size;
  }

  consume(id: string, expiresAt: number): boolean {
    const now = Date.now();
    this.forgetExpired(now);
    if (this.used.has(id)) return false;
    if (this.used.size >= this.maxEntries) {
      const retryAfterMs = Math.max(1, this.heapExpiry[0]! - now);
      throw new StreamException(StreamErrorCode.UNAVAILABLE, 'Too many stream tickets in use; try again later', { retryAfterMs });
    }
    this.used.set(id, expiresAt);
    this.push(expiresAt, id);
    return true;
  }

  private forgetExpired(now: number): void {
    while (this.heapExpiry.length > 0 && this.heapExpiry[0]! <= now) {
      const id = this.heapId[0]!;
      this.pop();
      this.used.delete(id);
    }
  }

  private push(expiry: number, id: string): void {
    const e = this.heapExpiry;
    const ids = this.heapId;
    let i = e.length;
    e.push(expiry);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (e[parent]! <= expiry) break;
      e[i] = e[parent]!;
      ids[i] = ids[parent]!;
      i = parent;
    }
    e[i] = expiry;
    ids[i] = id;
  }

  private pop(): void {
    const e = this.heapExpiry;
    const ids = this.heapId;
    const lastExpiry = e.pop()!;
    const lastId = ids.pop()!;
    const n = e.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && e[child + 1]! < e[child]!) child++;
      if (e[child]! >= lastExpiry) break;
      e[i] = e[child]!;
      ids[i] = ids[child]!;
      i = child;
    }
    e[i] = lastExpiry;
    ids[i] = lastId;
  }
}
