import { Injectable } from '@nestjs/common';
import { pipeToWriter, type QueueBudget, type StreamHandle } from './pipe-to-writer.js';
import type { StreamCallImpl } from './stream-call.js';
import type { StreamDefinition } from './stream-definition.js';
import { StreamInvoker } from './stream-invoker.js';
import type { StreamWriter } from './stream-writer.interface.js';
import { StreamTracker } from './stream-tracker.js';

/**
 * What every transport does to start a subscription: open the stream through the
 * pipeline, drive it into the transport's writer with the one backpressure loop, and track
 * it until it finishes.
 */
@Injectable()
export class StreamRunner {
  constructor(
    private readonly invoker: StreamInvoker,
    private readonly tracker: StreamTracker,
  ) {}

  /** Whether new subscriptions are refused because the app is shutting down. */
  get isShuttingDown(): boolean {
    return this.tracker.isShuttingDown;
  }

  /** Ends every live subscription with `UNAVAILABLE` and refuses new ones (shutdown). */
  closeAll(): void {
    this.tracker.closeAll();
  }

  run<F>(def: StreamDefinition, call: StreamCallImpl, writer: StreamWriter<F>, budget?: QueueBudget): StreamHandle {
    const handle = pipeToWriter(
      this.invoker.open(def, call, () => writer.opened?.()),
      writer,
      def.flowControl,
      (h) => this.tracker.delete(h),
      budget,
    );
    this.tracker.add(handle);
    return handle;
  }
}
