import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import type { LonglinkModuleOptions, TransportName } from '../../lib/index.js';
import { deferred } from './util.js';

/** One event as a client received it. */
export interface ReceivedEvent {
  id: string | undefined;
  data: unknown;
  /** A reset notice (the client missed events that cannot be replayed), not a value. */
  reset?: true;
}

/** How a subscription ended, as the client saw it. */
export type StreamEnd =
  | { kind: 'complete' }
  | {
      kind: 'error';
      code: string;
      message: string;
      details?: unknown;
      /** The transport's native form: HTTP status, WS close code, gRPC status. */
      native?: number | string;
    }
  /** The connection went away without a terminal message. */
  | { kind: 'closed'; reason?: string };

export interface SubscribeOptions {
  params?: Record<string, unknown>;
  lastEventId?: string;
  /** Request headers / metadata (e.g. authorization). */
  headers?: Record<string, string>;
}

/** A live subscription seen from a real client. */
export interface ClientSubscription {
  readonly events: ReceivedEvent[];
  /** Resolves when the stream ends, however it ends. Never rejects. */
  readonly end: Promise<StreamEnd>;
  /** Resolves once at least `count` events arrived; rejects if the stream ends first. */
  waitForEvents(count: number): Promise<ReceivedEvent[]>;
  /** Cancels from the client side (close the EventSource, unsubscribe, cancel the call). */
  cancel(): void;
}

/**
 * Starts an app with one transport and talks to it with that transport's real client.
 * Conformance cases are written against this interface only, so every transport runs the
 * very same cases.
 */
export interface TransportHarness {
  readonly transport: TransportName;
  /** e.g. `sse/express`. */
  readonly label: string;
  readonly app: INestApplication;
  /** Module options this transport needs (merged into the app's `LonglinkModule.forRoot()`). */
  readonly moduleOptions: LonglinkModuleOptions;
  start(module: Type<unknown> | DynamicModule, configure?: (app: INestApplication) => void): Promise<void>;
  subscribe(stream: string, options?: SubscribeOptions): ClientSubscription;
  /** Closes every client and the app. */
  stop(): Promise<void>;
}

/** Builds a fresh harness. */
export type HarnessFactory = () => TransportHarness;

/** Collects all events and the end of a subscription. */
export async function collect(sub: ClientSubscription): Promise<{ events: ReceivedEvent[]; end: StreamEnd }> {
  const end = await sub.end;
  return { events: sub.events, end };
}

/**
 * The client-side bookkeeping every harness shares: events as they arrive, waiters for a
 * count of them, and the end (settled once, whatever comes after).
 */
export class SubscriptionRecorder {
  readonly events: ReceivedEvent[] = [];
  private readonly ended = deferred<StreamEnd>();
  private waiters: { count: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  get isEnded(): boolean {
    return this.ended.settled;
  }

  event(event: ReceivedEvent): void {
    this.events.push(event);
    for (const w of [...this.waiters]) {
      if (this.events.length >= w.count) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  finish(end: StreamEnd): void {
    if (this.ended.settled) return;
    this.ended.resolve(end);
    for (const w of this.waiters.splice(0)) {
      w.reject(new Error(`stream ended (${JSON.stringify(end)}) after ${this.events.length} events`));
    }
  }

  /** The subscription as test cases see it; `cancel` does the transport's part, then ends it as closed. */
  subscription(cancel: () => void): ClientSubscription {
    return {
      events: this.events,
      end: this.ended.promise,
      waitForEvents: (count) =>
        new Promise<ReceivedEvent[]>((resolve, reject) => {
          if (this.events.length >= count) return resolve(this.events);
          if (this.ended.settled) return reject(new Error(`stream already ended after ${this.events.length} events`));
          this.waiters.push({ count, resolve: () => resolve(this.events), reject });
        }),
      cancel: () => {
        cancel();
        this.finish({ kind: 'closed', reason: 'cancelled by client' });
      },
    };
  }
}
