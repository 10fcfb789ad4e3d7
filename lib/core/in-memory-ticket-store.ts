import type { StreamTicketStore } from '../interfaces/stream-ticket.interface.js';

/**
 * The default {@link StreamTicketStore}: used ticket ids in a map until they expire, in this
 * process only. Bounded: expired ids are swept as the map grows, and past `maxEntries` live
 * ids new tickets are refused (fail closed) rather than memory growing without limit.
 *
 * @publicApi
 */
export class InMemoryTicketStore implements StreamTicketStore {
  private readonly used = new Map<string, number>();
  private nextSweep = 0;

  constructor(private readonly maxEntries = 100_000) {}

  consume(id: string, expiresAt: number): boolean {
    const now = Date.now();
    if (this.used.size >= this.maxEntries || now >= this.nextSweep) this.sweep(now);
    if (this.used.has(id) || this.used.size >= this.maxEntries) return false;
    this.used.set(id, expiresAt);
    return true;
  }

  private sweep(now: number): void {
    for (const [id, expiresAt] of this.used) if (expiresAt <= now) this.used.delete(id);
    this.nextSweep = now + 1000;
  }
}
