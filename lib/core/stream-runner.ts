import { Injectable } from '@nestjs/common';
import { pipeToWriter, type QueueBudget, type StreamHandle } from './pipe-to-writer.js';
import type { StreamCallImpl } from './stream-call.js';
import type { StreamDefinition } from './stream-definition.js';
import { StreamInvoker } from './stream-invoker.js';
import type { StreamWriter } from './stream-writer.interface.js';
import type { StreamException } from '../errors/stream-exception.js';
import { StreamTracker } from './stream-tracker.js';
import { writePaths } from './write-paths.js';

/**
 * What every transport does to start a subscription: open the stream through the
 * pipeline, drive it into the transport's writer with the one backpressure loop, and track
 * it until it finishes.
 */
@Injectable()
export class StreamRunner {
  /** One error normaliser per stream, not one per subscription. */
  private readonly normalizers = new WeakMap<StreamDefinition, (error: unknown) => StreamException>();

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
      const tracker = this.tracker;
      const handle = pipeToWriter(direct, writer, def.flowControl, (h) => {
        tracker.delete(h);
        call.abort();
      }, budget, this.normalizer(def));
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

  private normalizer(def: StreamDefinition): (error: unknown) => StreamException {
    let fn = this.normalizers.get(def);
    if (!fn) this.normalizers.set(def, (fn = (error) => this.invoker.normalize(error, def)));
    return fn;
  }
}
