import { Inject, Injectable, Optional } from '@nestjs/common';
import { shuttingDownError, type StreamException } from '../errors/stream-exception.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import type { TransportName } from '../protocol/transport-name.js';
import { DEFAULT_SHUTDOWN_DRAIN_MS, DEFAULT_SHUTDOWN_SPREAD_MS } from '../longlink.defaults.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../longlink.tokens.js';
import type { StreamHandle } from './stream-handle.js';

/**
 * One live subscription as {@link StreamTracker.subscriptions} reports it: a snapshot for an
 * admin endpoint (holds no reference to the subscription itself).
 *
 * @publicApi
 */
export interface LiveSubscription {
  /** Full stream name, e.g. `demo/chat`. */
  stream: string;
  transport: TransportName;
  /** When the subscription started. */
  startedAt: Date;
  /** Bytes waiting in its queue now (a slow reader). */
  queuedBytes: number;
  /** Highest `queuedBytes` seen. */
  maxQueuedBytes: number;
  /** Events dropped by the `drop-oldest` / `latest` policies. */
  droppedEvents: number;
  /** The last event id written to it (its resume point), if any. */
  lastEventId: string | undefined;
}

/** What the tracker knows of a subscription besides its handle. */
export interface TrackedInfo {
  stream: string;
  transport: TransportName;
  /**
   * Subscriptions that reconnect together (e.g. every subscription of one WebSocket): they
   * get the same retry delay at shutdown. Default: the subscription alone.
   */
  group?: object;
}

interface Entry extends TrackedInfo {
  startedAt: number;
}

/**
 * Every live subscription of this instance, on every transport, and the one "shutting down"
 * state of the module: transports ask it whether to accept a subscription, and at shutdown it
 * hands every live subscription over (PROTOCOL.md §2.1). Also lists live subscriptions for an
 * admin endpoint (guard it yourself: it reveals who listens to what).
 *
 * @publicApi
 */
@Injectable()
export class StreamTracker {
  private readonly entries = new Map<StreamHandle, Entry>();
  private shutdownStartedAt: number | undefined;
  private readonly shutdownListeners = new Set<() => void>();
  private readonly spreadMs: number;
  private readonly drainMs: number;

  constructor(@Optional() @Inject(LONGLINK_RESOLVED_OPTIONS) options?: ResolvedLonglinkOptions) {
    this.spreadMs = options?.shutdown.spreadMs ?? DEFAULT_SHUTDOWN_SPREAD_MS;
    this.drainMs = options?.shutdown.drainMs ?? DEFAULT_SHUTDOWN_DRAIN_MS;
  }

  /** Number of live subscriptions. */
  get size(): number {
    return this.entries.size;
  }

  /** Whether the application is shutting down (new subscriptions are refused). */
  get isShuttingDown(): boolean {
    return this.shutdownStartedAt !== undefined;
  }

  /** Calls `fn` once when the shutdown starts (health turns not serving). */
  onShutdown(fn: () => void): void {
    this.shutdownListeners.add(fn);
  }

  /** Handles of the live subscriptions (to close one from the server side). */
  list(): StreamHandle[] {
    return [...this.entries.keys()];
  }

  /** A snapshot of the live subscriptions: stream, transport, start time, queued bytes. */
  subscriptions(): LiveSubscription[] {
    return [...this.entries].map(([handle, entry]) => ({
      stream: entry.stream,
      transport: entry.transport,
      startedAt: new Date(entry.startedAt),
      queuedBytes: handle.queuedBytes,
      maxQueuedBytes: handle.maxQueuedBytes,
      droppedEvents: handle.droppedEvents,
      lastEventId: handle.lastEventId,
    }));
  }

  /** @internal Registers a subscription (the stream runner does); it is removed when it finishes. */
  add(handle: StreamHandle, info: TrackedInfo): void {
    if (!handle.closed) this.entries.set(handle, { ...info, startedAt: Date.now() });
  }

  /** @internal Removes a finished subscription. */
  delete(handle: StreamHandle): void {
    this.entries.delete(handle);
  }

  /** A retry delay in `[0, shutdown.spreadMs)`. */
  retryDelayMs(): number {
    return Math.floor(Math.random() * this.spreadMs);
  }

  /** The error that refuses a new subscription during shutdown (with its own retry delay). */
  refusal(): StreamException {
    return shuttingDownError({ retryAfterMs: this.retryDelayMs() });
  }

  /**
   * Milliseconds left for last messages to flush before connections are cut
   * (`shutdown.drainMs` from the start of the shutdown); `drainMs` before it.
   */
  drainRemainingMs(): number {
    if (this.shutdownStartedAt === undefined) return this.drainMs;
    return Math.max(0, this.shutdownStartedAt + this.drainMs - Date.now());
  }

  /**
   * Starts the shutdown (once; later calls do nothing): new subscriptions are refused from
   * now on, and every live one ends with `UNAVAILABLE` carrying `retryAfterMs` (shared by its
   * group) and its `lastEventId`.
   */
  shutdown(): void {
    if (this.shutdownStartedAt !== undefined) return;
    this.shutdownStartedAt = Date.now();
    for (const fn of this.shutdownListeners) fn();
    const delays = new Map<object, number>();
    for (const [handle, entry] of [...this.entries]) {
      let retryAfterMs: number;
      if (entry.group) {
        retryAfterMs = delays.get(entry.group) ?? this.retryDelayMs();
        delays.set(entry.group, retryAfterMs);
      } else {
        retryAfterMs = this.retryDelayMs();
      }
      const { lastEventId } = handle;
      handle.close(shuttingDownError(lastEventId === undefined ? { retryAfterMs } : { retryAfterMs, lastEventId }));
    }
    this.entries.clear();
  }

  /** Same as {@link shutdown}. */
  closeAll(): void {
    this.shutdown();
  }
}
