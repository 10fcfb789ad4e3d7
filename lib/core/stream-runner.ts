import { Inject, Injectable, Logger } from '@nestjs/common';
import { LONGLINK_LOGGER_CONTEXT } from '../longlink.constants.js';
import type { StreamException } from '../errors/stream-exception.js';
import type { TransportName } from '../protocol/transport-name.js';
import { LonglinkMetrics, type StreamStats } from '../metrics/longlink-metrics.js';
import { pipeToWriter } from './pipe-to-writer.js';
import type { QueueBudget, StreamHandle } from './stream-handle.js';
import type { StreamCallImpl } from './stream-call.js';
import type { StreamDefinition } from './stream-definition.js';
import { collectHolds } from './open-barrier.js';
import { StreamInvoker } from './stream-invoker.js';
import type { StreamWriter } from './stream-writer.interface.js';
import { StreamTracker } from './stream-tracker.js';
import { writePaths } from './write-paths.js';
import { INPUT_DEDUP_STORE, LONGLINK_RESOLVED_OPTIONS } from '../longlink.tokens.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import { InMemoryInputDedup, type InputDedupStore } from './input/input-dedup.store.js';
import { InputChannelRegistry } from './input/input-channel.registry.js';
import { InputRateLimiter } from './input/input-rate.limiter.js';
import { SubscriptionInput } from './input/subscription-input.js';

/**
 * What every transport does to start a subscription: open the stream through the
 * pipeline, drive it into the transport's writer with the one backpressure loop, and track
 * it until it finishes.
 */
@Injectable()
export class StreamRunner {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  /** One error normaliser per stream, not one per subscription. */
  private readonly normalizers = new WeakMap<StreamDefinition, (error: unknown) => StreamException>();

  constructor(
    private readonly invoker: StreamInvoker,
    private readonly tracker: StreamTracker,
    private readonly metrics: LonglinkMetrics,
    private readonly channels: InputChannelRegistry,
    @Inject(INPUT_DEDUP_STORE) private readonly dedup: InputDedupStore,
    @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options: ResolvedLonglinkOptions,
  ) {}

  /** A rate limiter for one connection's client messages, when `input.rateLimit` is set. */
  inputRateLimiter(): InputRateLimiter | undefined {
    const rate = this.options.input.rateLimit;
    return rate ? new InputRateLimiter(rate.perSecond, rate.burst) : undefined;
  }

  /**
   * The client messages of a two-way stream's subscription (PROTOCOL.md §7): deduplicated per
   * channel through the shared store, or per subscription without a channel.
   */
  private openInput(def: StreamDefinition, call: StreamCallImpl): SubscriptionInput {
    const limits = def.input!;
    const o = this.options.input;
    const input = new SubscriptionInput({
      scope: call.inputChannel === undefined ? '' : `${def.name}:${call.inputChannel}`,
      keyPrefix: call.inputChannel ?? `~${globalThis.crypto.randomUUID()}`,
      dedup: call.inputChannel === undefined ? new InMemoryInputDedup(o.dedupWindowMs, o.dedupMaxIds, o.dedupMaxIds) : this.dedup,
      maxQueue: limits.maxQueue,
      maxMessageBytes: limits.maxMessageBytes,
      normalize: this.normalizer(def),
      rate: call.connectionRate ?? this.inputRateLimiter(),
    });
    if (call.inputChannel !== undefined) input.openWhenRoutable(this.channels.hold(call.inputChannel, input));
    return input;
  }

  private closeInput(call: StreamCallImpl): void {
    const input = call.input;
    if (!input) return;
    input.close();
    if (call.inputChannel !== undefined) this.channels.release(call.inputChannel, input);
  }

  /** Counts a connection opened (`+1`) or closed (`-1`) on a transport that multiplexes (WebSocket). */
  connection(transport: TransportName, delta: 1 | -1): void {
    this.metrics.connection(transport, delta);
  }

  /** Counts a subscription refused before it started (unknown stream, shutdown, a limit). */
  refused(transport: TransportName, stream: string, error: StreamException): void {
    this.metrics.refused(transport, stream, error.code);
  }

  /** Whether new subscriptions are refused because the app is shutting down. */
  get isShuttingDown(): boolean {
    return this.tracker.isShuttingDown;
  }

  /** Starts the shutdown hand-over (once): see {@link StreamTracker.shutdown}. */
  closeAll(): void {
    this.tracker.shutdown();
  }

  /** Calls `fn` once when the shutdown starts. */
  onShutdown(fn: () => void): void {
    this.tracker.onShutdown(fn);
  }

  /** Milliseconds left for last messages to flush at shutdown (`shutdown.drainMs`). */
  drainRemainingMs(): number {
    return this.tracker.drainRemainingMs();
  }

  /** The error that refuses a new subscription during shutdown. */
  refusal(): StreamException {
    return this.tracker.refusal();
  }

  /**
   * Starts one subscription. `group`: subscriptions that reconnect together (one WebSocket's)
   * and so share a retry delay at shutdown.
   */
  run<F>(def: StreamDefinition, call: StreamCallImpl, writer: StreamWriter<F>, budget?: QueueBudget, group?: object): StreamHandle {
    // Per-connection events are logged at debug level only, and name no params, headers or ids.
    const debug = Logger.isLevelEnabled('debug');
    if (debug) this.logger.debug(`${call.transport} ${def.name}: subscribed`);
    const done = debug
      ? (h: StreamHandle) => this.logger.debug(`${call.transport} ${def.name}: ended${h.endError ? ` (${h.endError.code})` : ''}`)
      : undefined;
    if (def.input) call.input = this.openInput(def, call);
    const stats = this.metrics.streamStats(call.transport, def.name, def.flowControl.policy);
    const info = { stream: def.name, transport: call.transport, group };
    // Streams without enhancers (and metrics off): the handler's own Observable goes straight
    // into the pump (no wrapper Observable, no map/catchError layers, no promises).
    const direct = stats === undefined ? this.invoker.openDirect(def, call) : undefined;
    if (direct) {
      writePaths.openDirect++;
      const tracker = this.tracker;
      const [handle, held] = collectHolds(() =>
        pipeToWriter(direct, writer, {
          flow: def.flowControl,
          onFinish: (h) => {
            tracker.delete(h);
            if (call.input) this.closeInput(call);
            call.abort();
            done?.(h);
          },
          budget,
          normalize: this.normalizer(def),
        }),
      );
      if (!handle.closed) {
        // Open now, or once the source is live (a hub topic subscribed in its store).
        if (held === undefined) writer.opened?.();
        else
          held.then(
            () => !handle.closed && writer.opened?.(),
            () => undefined,
          );
        tracker.add(handle, info);
      }
      return handle;
    }
    writePaths.openPipeline++;
    // The writer learns when the pipeline accepted the call (SSE commits its head only then).
    const opened = writer.opened ? () => writer.opened!() : undefined;
    // With metrics: subscribe latency and live gauges, settled when the subscription ends.
    const measured = stats === undefined ? undefined : this.measure(call, stats);
    const handle = pipeToWriter(this.invoker.open(def, call, opened), writer, {
      flow: def.flowControl,
      onFinish: (h) => {
        this.tracker.delete(h);
        if (call.input) this.closeInput(call);
        done?.(h);
        measured?.(h);
      },
      budget,
      stats,
    });
    this.tracker.add(handle, info);
    return handle;
  }

  /**
   * Starts the metrics of one subscription: subscribe latency (until the pipeline is through,
   * or the refusal) and the live gauges. Returns what to run when it ends.
   */
  private measure(call: StreamCallImpl, stats: StreamStats): (handle: StreamHandle) => void {
    const started = performance.now();
    let ready = false;
    call.onReady = () => {
      if (ready) return;
      ready = true;
      stats.subscribed(performance.now() - started);
    };
    const perConnection = call.transport !== 'ws'; // an SSE response or gRPC call carries one subscription
    this.metrics.subscription(stats, 1);
    if (perConnection) this.metrics.connection(call.transport, 1);
    return (h) => {
      this.metrics.subscription(stats, -1);
      if (perConnection) this.metrics.connection(call.transport, -1);
      if (!ready && h.endError) {
        // Refused (guard, validation, handler) or ended before the pipeline was through.
        ready = true;
        stats.subscribed(performance.now() - started, h.endError.code);
      }
    };
  }

  private normalizer(def: StreamDefinition): (error: unknown) => StreamException {
    let fn = this.normalizers.get(def);
    if (!fn) this.normalizers.set(def, (fn = (error) => this.invoker.normalize(error, def)));
    return fn;
  }
}
