import { Injectable } from '@nestjs/common';
import { shuttingDownError } from '../errors/stream-exception.js';
import type { StreamHandle } from './pipe-to-writer.js';

/**
 * Every live subscription of this instance, on every transport. Used to end them all at
 * shutdown, and to observe them (e.g. in tests: nothing left after clients went away).
 *
 * @publicApi
 */
@Injectable()
export class StreamTracker {
  private readonly handles = new Set<StreamHandle>();
  private shuttingDown = false;

  /** Number of live subscriptions. */
  get size(): number {
    return this.handles.size;
  }

  /** Whether the application is shutting down (new subscriptions are refused). */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Snapshot of the live subscriptions. */
  list(): StreamHandle[] {
    return [...this.handles];
  }

  /** Registers a subscription; it is removed when it finishes. */
  add(handle: StreamHandle): void {
    if (!handle.closed) this.handles.add(handle);
  }

  /** Removes a finished subscription. */
  delete(handle: StreamHandle): void {
    this.handles.delete(handle);
  }

  /** Ends every live subscription with `UNAVAILABLE` (clients should retry elsewhere). */
  closeAll(): void {
    this.shuttingDown = true;
    const error = shuttingDownError();
    for (const handle of [...this.handles]) handle.close(error);
    this.handles.clear();
  }
}
