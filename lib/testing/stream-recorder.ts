/**
 * What a test subscription has received, and promises that wait for more: the one buffer
 * behind `StreamSubscription.next()`, `take()`, `complete()` and `expectError()`, fed by the
 * in-process writer or by the client. No Nest import.
 */

/** One notice a test subscription received. */
export type RecordedEvent<T = unknown> =
  { type: 'next'; id: string | undefined; data: T } | { type: 'reset'; id: string | undefined; reason: string };

/** How a test subscription ended with an error: the code of PROTOCOL.md §2, message and details. */
export interface RecordedError {
  code: string;
  message: string;
  details?: unknown;
}

interface Waiter {
  check(): boolean;
  resolve(): void;
  reject(error: Error): void;
}

/** Buffers a subscription's notices; every wait has a deadline. */
export class StreamRecorder<T = unknown> {
  readonly events: RecordedEvent<T>[] = [];
  /** Set once, when the subscription completed (`null`) or failed. */
  ended: RecordedError | null | undefined = undefined;
  /** Values consumed by `next()` / `take()` so far. */
  private read = 0;
  private readonly waiters = new Set<Waiter>();

  constructor(
    private readonly label: string,
    private readonly timeoutMs: number,
    private readonly listener: { onEvent?: (event: RecordedEvent<T>) => void; onEnd?: (ended: RecordedError | null) => void } = {},
  ) {}

  push(event: RecordedEvent<T>): void {
    if (this.ended !== undefined) return;
    this.events.push(event);
    this.listener.onEvent?.(event);
    this.settle();
  }

  end(error?: RecordedError): void {
    if (this.ended !== undefined) return;
    this.ended = error ?? null;
    this.listener.onEnd?.(this.ended);
    this.settle();
  }

  /** The values received and not yet taken by `next()`/`take()`. */
  private unread(): T[] {
    const values: T[] = [];
    let seen = 0;
    for (const e of this.events) {
      if (e.type !== 'next') continue;
      if (seen++ >= this.read) values.push(e.data);
    }
    return values;
  }

  /** The next value not yet taken; rejects if the stream ends first or none comes in time. */
  async next(timeoutMs = this.timeoutMs): Promise<T> {
    const [value] = await this.take(1, timeoutMs);
    return value as T;
  }

  /** The next `n` values not yet taken. */
  async take(n: number, timeoutMs = this.timeoutMs): Promise<T[]> {
    await this.wait(() => this.unread().length >= n || this.ended !== undefined, timeoutMs, `${n} value(s)`);
    const values = this.unread().slice(0, n);
    if (values.length < n) throw new Error(`${this.label}: ended (${this.describeEnd()}) after ${values.length} of ${n} value(s)`);
    this.read += n;
    return values;
  }

  /** Waits for completion; resolves with the values not yet taken. Rejects on an error. */
  async complete(timeoutMs = this.timeoutMs): Promise<T[]> {
    await this.wait(() => this.ended !== undefined, timeoutMs, 'completion');
    if (this.ended) throw new Error(`${this.label}: expected completion, got ${this.describeEnd()}`);
    const values = this.unread();
    this.read += values.length;
    return values;
  }

  /** Waits for the subscription to fail with `code`; resolves with the error. Rejects on completion or another code. */
  async expectError(code: string, timeoutMs = this.timeoutMs): Promise<RecordedError> {
    await this.wait(() => this.ended !== undefined, timeoutMs, `error ${code}`);
    const ended = this.ended;
    if (!ended || ended.code !== code) throw new Error(`${this.label}: expected error ${code}, got ${this.describeEnd()}`);
    return ended;
  }

  /** Rejects every pending wait (the subscription was closed by the test). */
  cancel(): void {
    for (const w of [...this.waiters]) w.reject(new Error(`${this.label}: closed while waiting`));
    this.waiters.clear();
  }

  private describeEnd(): string {
    if (this.ended === undefined) return 'still open';
    if (this.ended === null) return 'completion';
    return `error ${this.ended.code}: ${this.ended.message}`;
  }

  private settle(): void {
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  private wait(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.add(waiter);
    });
  }
}
