/** What {@link TurnBatcher} needs of a socket (a `net.Socket`). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Coalesces the writes one socket gets within an event-loop turn, without delaying a lone
 * write. After a turn that wrote more than once (a burst: a fast source), the socket is corked
 * from the first write of each turn until the next tick, so a turn's frames leave in one system
 * call. After a quiet turn, the first write leaves at once (lowest latency), and only the writes
 * that follow it in the same turn are corked.
 */
export class TurnBatcher {
  private writes = 0;
  private bursty = false;
  /** Whether the socket is corked by this batcher now. */
  corked = false;

  constructor(private readonly socket: Corkable) {}

  /** Call before each write. */
  beforeWrite(): void {
    if (this.writes++ === 0) {
      process.nextTick(this.endTurn);
      if (!this.bursty) return;
    } else if (this.corked) {
      return;
    }
    this.corked = true;
    this.socket.cork();
  }

  private readonly endTurn = (): void => {
    this.bursty = this.writes > 1;
    this.writes = 0;
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  };
}
