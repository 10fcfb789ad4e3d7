import type { Observable } from 'rxjs';
import type { ContractArgs, StreamContract } from '../contract/stream-contract.js';
import type { ChannelOptions, LonglinkChannel, LonglinkClient, SubscribeOptions } from './client.api.js';
import type { ClientEvent } from './client.types.js';

/** One stream of a {@link StreamMap}: what a client sends and the data of each event (and, for a two-way stream, of each client message). */
export interface StreamEntry {
  params: object;
  event: unknown;
  input?: unknown;
}

/** The client message type of a map's entry: its `input`, else `unknown`. */
type InputOf<E> = E extends { input: infer I } ? I : unknown;

/**
 * A map of stream names to their params and event data (the `Streams` type that
 * `nestjs-longlink generate` writes), as the constraint of `createClient<Streams>()`.
 *
 * @publicApi
 */
export type StreamMap<S> = { [Name in keyof S]: StreamEntry };

/** The arguments after a stream name of a {@link StreamMap}. */
type NamedArgs<S extends StreamMap<S>, Name extends keyof S> = ContractArgs<S[Name]['params'], [options?: SubscribeOptions]>;

/**
 * What `createClient<Streams>()` returns: the same client, its calls typed by stream name.
 * Only the map's names are accepted (a misspelt name does not compile); contracts made by
 * `defineStream` are accepted too.
 *
 * @publicApi
 */
export interface TypedLonglinkClient<S extends StreamMap<S>> extends Omit<LonglinkClient, 'stream' | 'events' | 'iterate' | 'channel'> {
  /** A two-way stream, typed by the map (its entry's `input` types `send`). */
  channel<Name extends keyof S & string>(
    name: Name,
    ...args: ContractArgs<S[Name]['params'], [options?: ChannelOptions]>
  ): LonglinkChannel<S[Name]['event'], InputOf<S[Name]>>;
  channel<Params extends object, Event, Input>(
    contract: StreamContract<Params, Event, Input>,
    ...args: ContractArgs<Params, [options?: ChannelOptions]>
  ): LonglinkChannel<Event, Input>;
  /** The values of a stream (data only), typed by the map. */
  stream<Name extends keyof S & string>(name: Name, ...args: NamedArgs<S, Name>): Observable<S[Name]['event']>;
  stream<Params extends object, Event>(
    contract: StreamContract<Params, Event>,
    ...args: ContractArgs<Params, [options?: SubscribeOptions]>
  ): Observable<Event>;
  /** Values with their ids, and reset notices. */
  events<Name extends keyof S & string>(name: Name, ...args: NamedArgs<S, Name>): Observable<ClientEvent<S[Name]['event']>>;
  events<Params extends object, Event>(
    contract: StreamContract<Params, Event>,
    ...args: ContractArgs<Params, [options?: SubscribeOptions]>
  ): Observable<ClientEvent<Event>>;
  /** Async iteration over a stream's values; `break` ends the subscription. */
  iterate<Name extends keyof S & string>(name: Name, ...args: NamedArgs<S, Name>): AsyncIterableIterator<S[Name]['event']>;
  iterate<Params extends object, Event>(
    contract: StreamContract<Params, Event>,
    ...args: ContractArgs<Params, [options?: SubscribeOptions]>
  ): AsyncIterableIterator<Event>;
}
