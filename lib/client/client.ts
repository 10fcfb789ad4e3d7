import { Observable, share, type Subscriber } from 'rxjs';
import type { StreamContract } from '../contract/stream-contract.js';
import type { ChannelOptions, LonglinkChannel, LonglinkClient, SubscribeOptions } from './client.api.js';
import { AutoFallback } from './client.auto-fallback.js';
import { channelInput, type ChannelInput, type InputLink } from './client.channel.js';
import { iterate } from './client.iterate.js';
import { backoff, resolveClientOptions } from './client.options.js';
import { ReconnectScheduler } from './client.reconnect.js';
import { ClientTransports } from './client.transports.js';
import type { ClientEvent, ClientOptions, ClientState, TransportName, TransportRequest } from './client.types.js';
import { StreamError, isTransient, isViolation } from './stream-error.js';
import type { StreamMap, TypedLonglinkClient } from './typed-client.types.js';

export type { ChannelOptions, LonglinkChannel, LonglinkClient, SubscribeOptions } from './client.api.js';

/** A stream named by its full name or by its contract. */
type StreamTarget = string | StreamContract<object, unknown, unknown>;

/** What a channel's unanswered messages are refused with when it ends without an error of its own. */
const channelEnded = (message = 'Channel ended') => new StreamError('UNAVAILABLE', message);

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
  /** A channel's messages (`client.channel()`). */
  input: ChannelInput | undefined;
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
  const transports = new ClientTransports(options);
  const listeners = new Set<(s: ClientState) => void>();
  let current: TransportName = options.transport === 'auto' ? 'ws' : options.transport;
  let state: ClientState = 'idle';
  let closed = false;
  const reconnect = new ReconnectScheduler<Sub>((sub) => start(sub));
  const waiting = reconnect.waiting;
  const auto = new AutoFallback(options.transport === 'auto', options.autoRetryWsMs);

  const update = () => {
    let next: ClientState = 'idle';
    if (closed) next = 'closed';
    else if (waiting.size) next = 'reconnecting';
    else if (subs.size) next = [...subs].some((s) => s.open) ? 'open' : 'connecting';
    if (next !== state) for (const l of [...listeners]) l((state = next));
  };

  const start = (sub: Sub) => {
    const transport = transports.get(current);
    sub.open = false;
    let live = true;
    let held = false; // the server holds this (re)subscription: onOpen called
    // A channel's messages go (again) once the server holds the subscription (PROTOCOL.md §7.1).
    const link: InputLink = { send: (id, json) => handle?.send?.(id, json), end: () => handle?.end?.(), serial: transport.name === 'sse' };
    const hold = () => {
      if (!held && live) {
        held = true;
        sub.input?.attach(link);
        sub.onOpen?.();
      }
    };
    const ended = () => {
      const was = live;
      live = false;
      sub.cancel = undefined;
      if (was) sub.input?.detach();
      return was;
    };
    let handle: ReturnType<typeof transport.subscribe> | undefined;
    const cancel = (handle = transport.subscribe(sub.request, {
      open() {
        if (!live) return;
        sub.open = true;
        if (transport.name === 'ws') auto.wsOpened();
        update();
      },
      accepted: hold,
      answer(id, error) {
        if (live) sub.input?.answer(link, id, error);
      },
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
        if (auto.shouldFallBack(transport.name, neverOpened, reconnect.rounds)) {
          fallBack();
          return start(sub);
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
        // A per-client delay in the error's details (hand-over) is waited; a transport's own
        // hint (SSE `retry:`, the gRPC trailer) only raises the backoff's ceiling.
        const hinted = (error.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
        if (typeof hinted === 'number') retry(sub, error, hinted, true);
        else retry(sub, error, retryAfterMs, false);
      },
    }));
    // Events a cancelled transport subscription still delivers are ignored: no duplicate after a switch.
    if (live) sub.cancel = () => ended() && cancel();
    update();
  };

  /** An event arrived: a new id (or any event of a stream without ids) resets the attempt count. */
  const progress = (sub: Sub, id: string | undefined) => {
    if (!sub.open) {
      sub.open = true; // data proves it (e.g. a server that does not answer init)
      update();
    }
    if (id === undefined || id !== sub.request.lastEventId) sub.attempts = 0;
    if (id !== undefined) sub.request.lastEventId = id;
  };

  const finish = (sub: Sub, error?: StreamError) => {
    subs.delete(sub);
    waiting.delete(sub);
    update();
    sub.input?.fail(error ?? channelEnded());
    if (error) sub.out.error(error);
    else sub.out.complete();
  };

  /**
   * Queues `sub` for the next reconnect round, which runs after the backoff of the first
   * subscription to fail: its attempt count (or its protocol violations in a row, if more) and
   * the server's hint, as a delay or as a ceiling (client.options.ts `backoff`).
   */
  const retry = (sub: Sub, error: StreamError, hintMs: unknown, isDelay: boolean) => {
    waiting.add(sub);
    update();
    const delay = backoff(options.retry, Math.max(sub.attempts, sub.strikes - 1), hintMs, isDelay);
    sub.attempts++;
    options.onRetry?.(error, sub.request.stream, delay);
    reconnect.arm(delay);
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

  /** `auto`: WebSocket did not open; SSE from now on, WebSocket tried again in the background. */
  const fallBack = () => {
    current = 'sse';
    auto.probeInBackground({
      get closed() {
        return closed;
      },
      get transport() {
        return current;
      },
      probeWs: () => transports.probeWs(),
      move,
    });
  };

  const events = <T>(target: StreamTarget, params: object = {}, sub?: SubscribeOptions, input?: ChannelInput) =>
    new Observable<ClientEvent<T>>((out) => {
      const name = typeof target === 'string' ? target : target.name;
      if (closed) return out.error(new StreamError('UNAVAILABLE', 'Client closed'));
      const s: Sub = {
        request: { stream: name, params: params as Record<string, unknown>, lastEventId: sub?.lastEventId, channel: input?.key },
        out: out,
        cancel: undefined,
        open: false,
        authRetried: false,
        attempts: 0,
        strikes: 0,
        lastStrikeAt: 0,
        onOpen: sub?.onOpen,
        input,
      };
      subs.add(s);
      start(s);
      return () => {
        if (!subs.delete(s)) return;
        waiting.delete(s);
        s.cancel?.();
        input?.fail(channelEnded());
        update();
      };
    });

  /** The data of an events view: values only, its end and errors as they come. */
  const data = <T>(source: Observable<ClientEvent<T>>) =>
    new Observable<T>((out) =>
      source.subscribe({
        next: (e) => e.type === 'next' && out.next(e.data),
        error: (e: unknown) => out.error(e),
        complete: () => out.complete(),
      }),
    );

  const stream = <T>(target: StreamTarget, params?: object, sub?: SubscribeOptions) => data(events<T>(target, params, sub));

  /** The output, shared by its subscribers (data, and `events` with ids), plus the channel's `send` and `complete` (client.api.ts). */
  const channel = <T, I>(target: StreamTarget, params?: object, opts: ChannelOptions = {}): LonglinkChannel<T, I> => {
    const input = channelInput(options.retry, opts.maxPending ?? 1000, opts.maxMessageBytes ?? 64_512);
    const shared = events<T>(target, params, opts, input).pipe(share());
    return Object.assign(data(shared), {
      key: input.key,
      events: shared,
      send: input.send,
      complete: input.complete,
    });
  };

  return {
    stream,
    events,
    channel,
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
      return reconnect.rounds;
    },
    switchTransport: move,
    drop: () => transports.drop(),
    async close() {
      if (closed) return;
      for (const s of [...subs]) {
        s.cancel?.();
        s.cancel = undefined;
      }
      closed = true;
      reconnect.stop();
      auto.stop();
      transports.close();
      const all = [...subs];
      subs.clear();
      waiting.clear();
      update();
      for (const s of all) {
        s.input?.fail(channelEnded('Client closed'));
        s.out.complete();
      }
    },
  };
}
