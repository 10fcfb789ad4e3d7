import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import type { LonglinkClient } from '../client/index.js';
import type { StreamContract, ContractArgs } from '../contract/stream-contract.js';
import { StreamCallImpl } from '../core/stream-call.js';
import { StreamRegistry } from '../core/stream-registry.js';
import { StreamRunner } from '../core/stream-runner.js';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException } from '../errors/stream-exception.js';
import type { StreamHeaders } from '../interfaces/stream-call.interface.js';
import type { TransportName } from '../protocol/transport-name.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../longlink.tokens.js';
import { servedAt, subscribeOverClient, type ServedAt } from './client-subscription.js';
import { InProcessWriter } from './in-process.writer.js';
import { StreamRecorder, type RecordedError, type RecordedEvent } from './stream-recorder.js';

/** Options of one test subscription. */
export interface TestSubscribeOptions {
  /** Request headers (lower-case keys) the guards see: `{ authorization: 'Bearer …' }`. */
  headers?: StreamHeaders;
  /** Resume after this event id. */
  lastEventId?: string;
  /** The WebSocket init payload guards read as `call.connectionParams` (in process). */
  connectionParams?: unknown;
  /** Deadline of each wait (`next()`, `take()`, ...) in ms. Default: the tester's. */
  timeoutMs?: number;
  /**
   * Ends the subscription when aborted, also while `subscribe()` is still pending (a guard or
   * an async handler not through yet): the pending promise then resolves, and the upstream
   * never starts or is torn down, as when a client goes away.
   */
  signal?: AbortSignal;
  /** Also called with each notice as it arrives (e.g. to feed your own recorder). */
  onEvent?: (event: RecordedEvent) => void;
  /** Also called once when the subscription ends: `null` on completion, else the error. */
  onEnd?: (ended: RecordedError | null) => void;
}

/** Options of {@link StreamTester.create}. */
export interface StreamTesterOptions {
  /**
   * `'in-process'` (default): the stream runs through the app's full pipeline (guards,
   * interceptors, pipes, filters, the backpressure loop), with no socket; fake timers work.
   * `'sse'`, `'ws'`, `'grpc'`: over that real transport with the package's client (the app
   * is made to listen on 127.0.0.1, port 0, if it does not yet; gRPC binds at `init()`).
   */
  transport?: 'in-process' | TransportName;
  /** In process: what `call.transport` says (default `'sse'`); the stream must be served on it. */
  as?: TransportName;
  /** Deadline of each wait in ms. Default 5000. */
  timeoutMs?: number;
}

/**
 * One test subscription: what it received, and waits with a deadline.
 *
 * @publicApi
 */
export interface StreamSubscription<T = unknown> {
  /** Every notice so far (values and reset notices), in order. */
  readonly events: readonly RecordedEvent<T>[];
  /** `undefined` while open; `null` once completed; the error once failed. */
  readonly ended: RecordedError | null | undefined;
  /** The next value not yet taken. Rejects if the stream ends first, or none arrives in time. */
  next(timeoutMs?: number): Promise<T>;
  /** The next `n` values not yet taken. */
  take(n: number, timeoutMs?: number): Promise<T[]>;
  /** Waits for completion; resolves with the values not yet taken. Rejects on an error. */
  complete(timeoutMs?: number): Promise<T[]>;
  /** Waits for the subscription to fail with `code` (PROTOCOL.md §2); resolves with the error. */
  expectError(code: string, timeoutMs?: number): Promise<RecordedError>;
  /** Ends the subscription, as a client going away does: the handler's stream is torn down. */
  unsubscribe(): void;
}

/**
 * Drives the app's streams from a test. `subscribe()` resolves once the server holds the
 * subscription (the pipeline accepted it and the handler's stream is subscribed), so an event
 * published after it is never missed; a refusal resolves it too, and `expectError()` reads it.
 *
 * ```ts
 * const app = moduleRef.createNestApplication();
 * await app.init();                                   // in process: no listen() needed
 * const tester = StreamTester.create(app);
 * const sub = await tester.subscribe(counter, { count: 3 });
 * expect(await sub.take(3)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
 * ```
 *
 * @publicApi
 */
export class StreamTester {
  private readonly live = new Set<StreamSubscription>();
  private readonly clients = new Set<LonglinkClient>();

  private constructor(
    private readonly registry: StreamRegistry,
    private readonly runner: StreamRunner,
    private readonly options: Required<Omit<StreamTesterOptions, 'transport'>> & { transport: 'in-process' | TransportName },
    private readonly at: ServedAt | undefined,
  ) {}

  /**
   * A tester for an initialised app (`await app.init()`), e.g. from a testing module
   * (`moduleRef.createNestApplication()`). Over a real transport the app must be an
   * `INestApplication`; it is made to listen if it does not yet.
   */
  static async create(app: INestApplicationContext, options: StreamTesterOptions = {}): Promise<StreamTester> {
    const registry = app.get(StreamRegistry);
    const transport = options.transport ?? 'in-process';
    const at =
      transport === 'in-process'
        ? undefined
        : await servedAt(app as INestApplication, transport, app.get<ResolvedLonglinkOptions>(LONGLINK_RESOLVED_OPTIONS), registry);
    return new StreamTester(registry, app.get(StreamRunner), { transport, as: options.as ?? 'sse', timeoutMs: options.timeoutMs ?? 5000 }, at);
  }

  /** The transport this tester subscribes over. */
  get transport(): 'in-process' | TransportName {
    return this.options.transport;
  }

  /** Subscribes through the full pipeline; resolves once the server holds the subscription (or refused it). */
  subscribe<Params extends object, Event>(
    contract: StreamContract<Params, Event>,
    ...args: ContractArgs<Params, [options?: TestSubscribeOptions]>
  ): Promise<StreamSubscription<Event>>;
  subscribe<T = unknown>(stream: string, params?: Record<string, unknown>, options?: TestSubscribeOptions): Promise<StreamSubscription<T>>;
  subscribe(target: string | StreamContract<object, unknown>, params: object = {}, options: TestSubscribeOptions = {}): Promise<StreamSubscription> {
    const name = typeof target === 'string' ? target : target.name;
    const recorder = new StreamRecorder(`stream "${name}"`, options.timeoutMs ?? this.options.timeoutMs, options);
    // The params travel as JSON, as from a real client.
    const wireParams = JSON.parse(JSON.stringify(params)) as Record<string, unknown>;
    return new Promise<StreamSubscription>((resolve) => {
      let writer: InProcessWriter | undefined;
      let client: LonglinkClient | undefined;
      const sub: StreamSubscription = {
        get events() {
          return recorder.events;
        },
        get ended() {
          return recorder.ended;
        },
        next: (ms) => recorder.next(ms),
        take: (n, ms) => recorder.take(n, ms),
        complete: (ms) => recorder.complete(ms),
        expectError: (code, ms) => recorder.expectError(code, ms),
        unsubscribe: () => {
          this.live.delete(sub);
          writer?.close();
          if (client) {
            this.clients.delete(client);
            void client.close();
          }
          recorder.cancel();
        },
      };
      this.live.add(sub);
      let settled = false;
      const opened = () => {
        if (settled) return;
        settled = true;
        resolve(sub);
      };
      if (options.signal) {
        const abort = () => {
          sub.unsubscribe();
          opened();
        };
        if (options.signal.aborted) return abort();
        options.signal.addEventListener('abort', abort, { once: true });
      }
      if (this.at) {
        client = subscribeOverClient(this.at, this.options.transport as TransportName, name, wireParams, recorder, opened, options);
        this.clients.add(client);
        return;
      }
      const def = this.registry.find(name, this.options.as);
      if (!def) {
        recorder.end(new StreamException(StreamErrorCode.NOT_FOUND, `Unknown stream "${name}"`).toJSON());
        return opened();
      }
      writer = new InProcessWriter(recorder, opened);
      const call = new StreamCallImpl({
        stream: name,
        transport: this.options.as,
        params: wireParams,
        lastEventId: options.lastEventId,
        headers: options.headers ?? {},
        raw: { headers: options.headers ?? {}, url: `/${name}` },
        ...(options.connectionParams !== undefined ? { connectionParams: options.connectionParams } : {}),
      });
      this.runner.run(def, call, writer);
    });
  }

  /** Ends every subscription this tester made (and closes its clients). */
  async close(): Promise<void> {
    const clients = [...this.clients];
    for (const sub of [...this.live]) sub.unsubscribe();
    await Promise.all(clients.map((c) => c.close()));
  }
}
