import { later } from './client.options.js';

/**
 * Reconnect rounds: subscriptions that lost their connection wait here; one timer (the
 * backoff of the first to fail) starts them all again together. Coming back online or to the
 * page starts a pending round at once.
 */
export class ReconnectScheduler<S> {
  /** Subscriptions waiting for the next round. */
  readonly waiting = new Set<S>();
  /** Rounds run so far. */
  rounds = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly wake = () => {
    if (this.timer) this.runNow();
  };
  private readonly target = globalThis as unknown as Partial<EventTarget> & { document?: Document };

  /** `start`: subscribes one waiting subscription again. */
  constructor(private readonly start: (sub: S) => void) {
    this.target.addEventListener?.('online', this.wake);
    this.target.document?.addEventListener('visibilitychange', this.wake);
  }

  /** Runs the next round in `delayMs`, unless one is already due. */
  arm(delayMs: number): void {
    if (this.timer) return;
    this.timer = later(() => this.runNow(), delayMs);
  }

  /** Runs the round now: every waiting subscription starts again. */
  runNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.waiting.size) return;
    this.rounds++;
    const due = [...this.waiting];
    this.waiting.clear();
    for (const sub of due) this.start(sub);
  }

  /** No more rounds: the timer and the wake-up listeners go. */
  stop(): void {
    clearTimeout(this.timer);
    this.target.removeEventListener?.('online', this.wake);
    this.target.document?.removeEventListener('visibilitychange', this.wake);
  }
}
