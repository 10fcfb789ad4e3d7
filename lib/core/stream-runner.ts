import { Injectable } from '@nestjs/common';
import { pipeToWriter, type QueueBudget, type StreamHandle } from './pipe-to-writer.js';
import type { StreamCallImpl } from './stream-call.js';
import type { StreamDefinition } from './stream-definition.js';
import { StreamInvoker } from './stream-invoker.js';
import type { StreamWriter } from './stream-writer.interface.js';
import { StreamTracker } from './stream-tracker.js';
import { writePaths } from './write-paths.js';

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
    // Streams without enhancers: the handler's own Observable goes straight into the pump
    // (no wrapper Observable, no map/catchError layers, no promises).
    const direct = this.invoker.openDirect(def, call);
    if (direct) {
      writePaths.openDirect++;
      const invoker = this.invoker;
      const tracker = this.tracker;
      const handle = pipeToWriter(direct, writer, def.flowControl, (h) => {
        tracker.delete(h);
        call.abort();
      }, budget, (error) => invoker.normalize(error, def));
      if (!handle.closed) {
        writer.opened?.();
        tracker.add(handle);
      }
      return handle;
    }
    writePaths.openPipeline++;
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
