import { Observable, type Subscriber } from 'rxjs';
import type { ContractArgs, StreamContract } from '../contract/stream-contract.js';
import { backoff, later, resolveClientOptions, type ResolvedClientOptions } from './client.options.js';
import type {
  ClientEvent,
  ClientOptions,
  ClientState,
  ClientTransport,
  TransportName,
  TransportRequest,
} from './client.types.js';
import { iterate } from './client.iterate.js';
import { GRPC_MODULE, LazyTransport } from './lazy.client-transport.js';
import { SseClientTransport } from './sse.client-transport.js';
import { StreamError, isTransient, isViolation } from './stream-error.js';
import type { StreamMap, TypedLonglinkClient } from './typed-client.types.js';
import { WsClientTransport } from './ws.client-transport.js';

/** Options of one subscription. */
export interface SubscribeOptions {
  /** Resume after this event id. */
  lastEventId?: string;
  /**
   * Called each time the server holds this subscription (its guards, interceptors and pipes
   * accepted it and its source is live), on the first subscribe and after every resume: an
   * event published from then on reaches it. SSE: the 200 answer; WebSocket: the `subscribed`
   * message (PROTOCOL.md §4.2); gRPC: the response headers; on any transport, the first event.
   */
  onOpen?: () => void;
}

/**
 * A client of a nestjs-longlink server. One API over every transport; reconnects with backoff
 * and resumes every subscription from the last event id it delivered.
 *
 * @publicApi
 */
export interface LonglinkClient {
  /**
   * The values of a stream (data only). Unsubscribing ends the subscription on the server.
   * Given a contract (`defineStream`), params and values are typed by it.
   */
  stream<Params extends object, Event>(
    contract: StreamContract<Params, Event>,
    ...args: ContractArgs<Params, [options?: SubscribeOptions]>
  ): Observable<Event>;
  stream<T = unknown>(name: string, params?: Record<string, unknown>, options?: SubscribeOptions): Observable<T>;
  /** Values with their ids, and reset notices (events were missed and cannot be replayed). */
  events<Params extends object, Event>(
    contract: StreamContract<Params, Event>,
    ...args: ContractArgs<Params, [options?: SubscribeOptions]>
  ): Observable<ClientEvent<Event>>;
  events<T = unknown>(name: string, params?: Record<string, unknown>, options?: SubscribeOptions): Observable<ClientEvent<T>>;
  /** Async iteration over a stream's values; `break` ends the subscription. */
  iterate<Params extends object, Event>(
    contract: StreamContract<Params, Event>,
    ...args: ContractArgs<Params, [options?: SubscribeOptions]>
  ): AsyncIterableIterator<Event>;
  iterate<T = unknown>(name: string, params?: Record<string, unknown>, options?: SubscribeOptions): AsyncIterableIterator<T>;
  /** The connection state; emits the current one on subscribe. */
  readonly state$: Observable<ClientState>;
  /** The transport in use now (`auto` switches between `ws` and `sse`). */
  readonly transport: TransportName;
  /** Reconnect rounds so far (each resumes every live subscription). */
  readonly reconnects: number;
  /** Moves every live subscription to another transport, resuming each from its last id. */
  switchTransport(to: TransportName): void;
  /** Drops the connections as if the network failed: subscriptions reconnect and resume. */
  drop(): void;
  /** Ends every subscription and closes the connections. */
  close(): Promise<void>;
}

/** A stream named by its full name or by its contract. */
type StreamTarget = string | StreamContract<object, unknown>;

/** One consumer subscription. */
interface Sub {
  request: TransportRequest;
  out: Subscriber<ClientEvent<unknown>>;
  cancel: (() => void) | undefined;
  open: boolean;
  /** Whether an UNAUTHENTICATED refusal was already retried with fresh params. */
  authRetried: boolean;
  /** Reconnect attempts since the subscription last made progress (a new event id). */
  attempts: number;
  /** Protocol violations in a row (each within 2 × `retry.maxMs` of the last); progress does not reset them. */
  strikes: number;
  lastStrikeAt: number;
  /** The consumer's `onOpen`. */
  onOpen: (() => void) | undefined;
}

/**
 * Creates a client. Nothing connects until the first subscription.
 *
 * @publicApi
 */
export function createClient(clientOptions?: ClientOptions): LonglinkClient;
/**
 * Creates a client typed by a map of stream names (the `Streams` type that
 * `nestjs-longlink generate` writes): `client.stream('demo/counter', { count: 3 })` then
 * checks the name and params and types the data. The same client at run time.
 *
 * @publicApi
 */
export function createClient<S extends StreamMap<S>>(clientOptions?: ClientOptions): TypedLonglinkClient<S>;
export function createClient(clientOptions: ClientOptions = {}): LonglinkClient {
  const options = resolveClientOptions(clientOptions);
  const subs = new Set<Sub>();
  const waiting = new Set<Sub>();
  const transports = new Map<TransportName, ClientTransport>();
  const listeners = new Set<(s: ClientState) => void>();
  let current: TransportName = options.transport === 'auto' ? 'ws' : options.transport;
  let state: ClientState = 'idle';
  let reconnects = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let wsProbe: ReturnType<typeof setTimeout> | undefined;
  let closed = false;
  /** `auto`: whether a WebSocket ever opened for this client, and how many in a row did not since. */
  let wsWorked = false;
  let wsFailures = 0;
  let failureRound = -1;

  const transportOf = (name: TransportName): ClientTransport => {
    let t = transports.get(name);
    if (!t) {
      t =
        name === 'ws'
          ? new WsClientTransport(options, wsUrl(options))
          : name === 'sse'
            ? new SseClientTransport(options)
            : new LazyTransport(name, GRPC_MODULE, options);
      transports.set(name, t);
    }
    return t;
  };

  const update = () => {
    let next: ClientState = 'idle';
    if (closed) next = 'closed';
    else if (waiting.size) next = 'reconnecting';
    else if (subs.size) next = [...subs].some((s) => s.open) ? 'open' : 'connecting';
    if (next !== state) for (const l of [...listeners]) l((state = next));
  };

  const start = (sub: Sub) => {
    const transport = transportOf(current);
    sub.open = false;
    let live = true;
    let held = false; // the server holds this (re)subscription: onOpen called
    const hold = () => {
      if (!held && live) (held = true), sub.onOpen?.();
    };
    const ended = () => {
      const was = live;
      live = false;
      sub.cancel = undefined;
      return was;
    };
    const cancel = transport.subscribe(sub.request, {
      open() {
        if (!live) return;
        sub.open = true;
        if (transport.name === 'ws') (wsWorked = true), (wsFailures = 0);
        update();
      },
      accepted: hold,
      next(id, data) {
        if (!live) return;
        hold();
        progress(sub, id);
        sub.out.next({ type: 'next', id, data });
      },
      reset(id, reason) {
        if (!live) return;
        hold();
        progress(sub, id);
        options.onReset?.(sub.request.stream, reason, sub.request.params);
        sub.out.next({ type: 'reset', id, reason });
      },
      end(error, retryAfterMs, neverOpened) {
        if (!ended() || closed) return;
        if (!error) return finish(sub);
        if (neverOpened && options.transport === 'auto' && transport.name === 'ws') {
          // WebSocket never worked here (refused, blocked): SSE now. Once it has worked, a socket
          // that does not open is more likely a server restarting: retry it, fall back after 3 in a row.
          if (failureRound !== reconnects) (failureRound = reconnects), wsFailures++; // once per connection attempt
          if (!wsWorked || wsFailures >= 3) {
            fallBack();
            return start(sub);
          }
        }
        const refresh = error.code === 'UNAUTHENTICATED' && options.refreshable && !sub.authRetried;
        if (refresh) {
          sub.authRetried = true;
          // Fresh connection params travel in a new init message: a new WebSocket connection.
          if (transport.name === 'ws') transport.drop();
        }
        if ((!isTransient(error) && !refresh) || sub.attempts >= options.retry.maxAttempts) return finish(sub, error);
        if (isViolation(error)) {
          const now = Date.now();
          sub.strikes = now - sub.lastStrikeAt <= 2 * options.retry.maxMs ? sub.strikes + 1 : 1;
          sub.lastStrikeAt = now;
        }
        const hinted = (error.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
        retry(sub, error, hinted ?? retryAfterMs);
      },
    });
    // Events a cancelled transport subscription still delivers are ignored: no duplicate after a switch.
    if (live) sub.cancel = () => ended() && cancel();
    update();
  };

  /** An event arrived: a new id (or any event of a stream without ids) resets the attempt count. */
  const progress = (sub: Sub, id: string | undefined) => {
    if (!sub.open) (sub.open = true), update(); // data proves it (e.g. a server that does not answer init)
    if (id === undefined || id !== sub.request.lastEventId) sub.attempts = 0;
    if (id !== undefined) sub.request.lastEventId = id;
  };

  const finish = (sub: Sub, error?: StreamError) => {
    subs.delete(sub);
    waiting.delete(sub);
    update();
    if (error) sub.out.error(error);
    else sub.out.complete();
  };

  /**
   * One reconnect round for every subscription that lost its connection, after the backoff of the
   * first one to fail: its attempt count (or its protocol violations in a row, if more), the
   * server's hint only raising the ceiling (client.options.ts `backoff`).
   */
  const retry = (sub: Sub, error: StreamError, hintMs: unknown) => {
    waiting.add(sub);
    update();
    const delay = backoff(options.retry, Math.max(sub.attempts, sub.strikes - 1), hintMs);
    sub.attempts++;
    options.onRetry?.(error, sub.request.stream, delay);
    if (retryTimer) return;
    retryTimer = later(reconnectNow, delay);
  };

  const reconnectNow = () => {
    clearTimeout(retryTimer);
    retryTimer = undefined;
    if (!waiting.size) return;
    reconnects++;
    const due = [...waiting];
    waiting.clear();
    for (const sub of due) start(sub);
  };

  /** `auto`: WebSocket did not open; SSE from now on, WebSocket tried again in the background. */
  const fallBack = () => {
    current = 'sse';
    clearTimeout(wsProbe);
    const probe = () => {
      if (closed || current !== 'sse') return;
      (transportOf('ws') as WsClientTransport).probe().then((ok) => {
        if (ok && !closed && current === 'sse') move('ws');
        else if (!ok && !closed) wsProbe = later(probe, options.autoRetryWsMs);
      }, () => undefined);
    };
    wsProbe = later(probe, options.autoRetryWsMs);
  };

  /** Break before make: the old subscription is cancelled (its late events ignored), the new one resumes from the last id. */
  const move = (to: TransportName) => {
    current = to;
    for (const sub of subs) {
      if (!sub.cancel) continue;
      sub.cancel();
      start(sub);
    }
  };

  const onWake = () => {
    if (retryTimer) reconnectNow();
  };
  const target = globalThis as unknown as Partial<EventTarget> & { document?: Document };
  target.addEventListener?.('online', onWake);
  target.document?.addEventListener('visibilitychange', onWake);

  const events = <T>(target: StreamTarget, params: object = {}, sub?: SubscribeOptions) =>
    new Observable<ClientEvent<T>>((out) => {
      const name = typeof target === 'string' ? target : target.name;
      if (closed) return out.error(new StreamError('UNAVAILABLE', 'Client closed'));
      const s: Sub = {
        request: { stream: name, params: params as Record<string, unknown>, lastEventId: sub?.lastEventId },
        out: out as Subscriber<ClientEvent<unknown>>,
        cancel: undefined,
        open: false,
        authRetried: false,
        attempts: 0,
        strikes: 0,
        lastStrikeAt: 0,
        onOpen: sub?.onOpen,
      };
      subs.add(s);
      start(s);
      return () => {
        if (!subs.delete(s)) return;
        waiting.delete(s);
        s.cancel?.();
        update();
      };
    });

  const stream = <T>(target: StreamTarget, params?: object, sub?: SubscribeOptions) =>
    new Observable<T>((out) =>
      events<T>(target, params, sub).subscribe({
        next: (e) => e.type === 'next' && out.next(e.data),
        error: (e: unknown) => out.error(e),
        complete: () => out.complete(),
      }),
    );

  return {
    stream,
    events,
    iterate: <T>(target: StreamTarget, params?: object, sub?: SubscribeOptions) => iterate(stream<T>(target, params, sub)),
    state$: new Observable<ClientState>((out) => {
      const l = (s: ClientState) => out.next(s);
      listeners.add(l);
      l(state);
      return () => listeners.delete(l);
    }),
    get transport() {
      return current;
    },
    get reconnects() {
      return reconnects;
    },
    switchTransport: move,
    drop: () => {
      for (const t of transports.values()) t.drop();
    },
    async close() {
      if (closed) return;
      for (const s of [...subs]) {
        s.cancel?.();
        s.cancel = undefined;
      }
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(wsProbe);
      target.removeEventListener?.('online', onWake);
      target.document?.removeEventListener('visibilitychange', onWake);
      for (const t of transports.values()) t.close();
      const all = [...subs];
      subs.clear();
      waiting.clear();
      update();
      for (const s of all) s.out.complete();
    },
  };
}

function wsUrl(options: ResolvedClientOptions): string {
  const url = new URL(options.wsPath, options.url);
  url.protocol = url.protocol.replace('http', 'ws');
  return url.href;
}
