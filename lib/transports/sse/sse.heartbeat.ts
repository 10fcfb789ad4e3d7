/** What {@link SseHeartbeat} needs of a response's writer. */
export interface SseBeating {
  /** Writes one heartbeat comment unless the response's buffer is full. */
  beat(): void;
}

/**
 * The SSE transport's one heartbeat timer: every `intervalMs`, each committed stream gets a
 * `:` comment (PROTOCOL.md §3). One timer for all responses instead of one per response; it
 * runs only while some stream is open.
 */
export class SseHeartbeat {
  private readonly writers = new Set<SseBeating>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs: number) {}

  add(writer: SseBeating): void {
    if (this.intervalMs <= 0) return;
    this.writers.add(writer);
    if (this.timer) return;
    this.timer = setInterval(() => {
      for (const w of this.writers) w.beat();
    }, this.intervalMs);
    this.timer.unref();
  }

  delete(writer: SseBeating): void {
    if (!this.writers.delete(writer) || this.writers.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
