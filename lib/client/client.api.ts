import type { Observable } from 'rxjs';
import type { ContractArgs, StreamContract } from '../contract/stream-contract.js';
import type { ClientEvent, ClientState, TransportName } from './client.types.js';

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

/** Options of one channel (`client.channel()`). */
export interface ChannelOptions extends SubscribeOptions {
  /**
   * Messages that may await an answer at once (sent or not, resent after reconnects); past it
   * `send` rejects with `RESOURCE_EXHAUSTED`. Default 1000.
   */
  maxPending?: number;
  /** The largest message (its data as UTF-8 JSON) `send` takes; past it `send` rejects with `BAD_REQUEST`. Default 64512. */
  maxMessageBytes?: number;
}

/**
 * A two-way stream (PROTOCOL.md §7): the output, an `Observable` shared by its subscribers (the
 * first subscribes on the server, the last to leave ends it), plus the channel's messages.
 * Messages are delivered exactly once into the handler, in order, across reconnects, server
 * restarts and transport switches: each has an id, and those without an answer are resent
 * (the server drops ids it already acked).
 *
 * @publicApi
 */
export interface LonglinkChannel<Event, Input> extends Observable<Event> {
  /** The channel key (128 random bits): a secret of this subscriber. */
  readonly key: string;
  /**
   * The same output as events, as `client.events()` gives them: values with their ids, and
   * reset notices. It shares the one server subscription with the channel's own subscribers.
   */
  readonly events: Observable<ClientEvent<Event>>;
  /**
   * Sends one message. Resolves once the server acked it (a duplicate's ack too); rejects with
   * a `StreamError` when the server refused it (`BAD_REQUEST`: validation; only this message),
   * when it cannot be sent (`maxPending`, `maxMessageBytes`, not JSON, after `complete()`), or when
   * the channel ended first. Transient refusals (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`) are resent
   * with backoff. Messages wait until the output is subscribed; promises settle in call order.
   */
  send(data: Input): Promise<void>;
  /** Half-close: the handler's input completes after the messages sent before; the output goes on. */
  complete(): void;
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
  /** A two-way stream: its output, plus `send(data)` and `complete()` for its input (see {@link LonglinkChannel}). */
  channel<Params extends object, Event, Input>(
    contract: StreamContract<Params, Event, Input>,
    ...args: ContractArgs<Params, [options?: ChannelOptions]>
  ): LonglinkChannel<Event, Input>;
  channel<T = unknown, I = unknown>(name: string, params?: Record<string, unknown>, options?: ChannelOptions): LonglinkChannel<T, I>;
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
