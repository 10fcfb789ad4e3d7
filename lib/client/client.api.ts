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
