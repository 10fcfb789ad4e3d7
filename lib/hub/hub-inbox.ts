import type { HubRecord } from './hub-adapter.interface.js';

/**
 * Where the adapter's live records enter the hub. A record that arrives while the hub is
 * inside an adapter's `publish()` call (an adapter that delivers synchronously, as the
 * in-memory one does) waits for one microtask, with every record that arrives after it until
 * then. So `StreamHub.publish()` never delivers in its caller's stack (a subscriber that
 * publishes while an event is delivered to it would otherwise have its event overtake that one
 * on the subscribers not served yet), records are delivered in arrival order, and a burst of
 * publishes in one turn is delivered in one job rather than one promise job each.
 */
export class HubInbox {
  /** Greater than 0 while the hub is inside an adapter's `publish()`. */
  publishing = 0;
  /** Held records as `topic, epoch, record` triples, oldest first. */
  private held: Array<string | HubRecord> = [];
  private scheduled = false;

  constructor(private readonly deliver: (topic: string, epoch: string, record: HubRecord) => void) {}

  /** A record from the adapter: delivered now, or held (see the class). */
  receive(topic: string, epoch: string, record: HubRecord): void {
    if (this.publishing === 0 && this.held.length === 0) {
      this.deliver(topic, epoch, record);
      return;
    }
    this.held.push(topic, epoch, record);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    const held = this.held;
    try {
      // Records held while this runs (a subscriber publishing) join the same array: after these.
      for (let i = 0; i < held.length; i += 3) this.deliver(held[i] as string, held[i + 1] as string, held[i + 2] as HubRecord);
    } finally {
      this.held = [];
      this.scheduled = false;
    }
  };
}
