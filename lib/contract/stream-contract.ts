/**
 * A stream's typed contract, declared once in a file that both the server and the client
 * import (a monorepo's shared folder): the stream's full name plus, as types only, its params
 * and the data of its events. The server binds it with `@Stream(contract)`, the client calls
 * `client.stream(contract, params)`; the compiler then checks both sides against it.
 *
 * This file has no imports: it is part of the browser client's bundle and of the server.
 */

/** Marker key of the type-only part of a contract (never present at run time). */
declare const contractTypes: unique symbol;

/**
 * What {@link defineStream} returns: the stream's full name (as clients name it, e.g.
 * `'demo/counter'`) and, as types only, `Params` (what the client sends) and `Event` (the data
 * of each event).
 *
 * @publicApi
 */
export interface StreamContract<Params extends object = Record<string, unknown>, Event = unknown, Input = unknown> {
  /** The stream's full name: `<controller path>/<name>`, with `v<version>/` first when versioned. */
  readonly name: string;
  /** Type-only (never set): carries `Params`, `Event` and `Input` for the compiler. */
  readonly [contractTypes]?: { readonly params: Params; readonly event: Event; readonly input: Input };
}

/** The params type of a contract. @publicApi */
export type StreamParamsOf<C> = C extends StreamContract<infer P, unknown> ? P : never;

/** The event data type of a contract. @publicApi */
export type StreamEventOf<C> = C extends StreamContract<object, infer E> ? E : never;

/** The client message type of a two-way stream's contract. @publicApi */
export type StreamInputOf<C> = C extends StreamContract<object, unknown, infer I> ? I : never;

/**
 * The arguments after the contract in a client call: params are optional when every
 * property of `Params` is (a stream without params takes none).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- `{} extends Params`: true exactly when every property of Params is optional
export type ContractArgs<Params, Rest extends unknown[]> = {} extends Params ? [params?: Params, ...rest: Rest] : [params: Params, ...rest: Rest];

/** Longest stream name, as on the server (PROTOCOL.md §2). */
const MAX_NAME_LENGTH = 512;
const NAME = /^[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*$/;

/**
 * Declares a stream's contract: its full name, and its params and event types.
 *
 * ```ts
 * // shared/streams.ts
 * export const counter = defineStream<{ count?: number }, { n: number }>('demo/counter');
 * // server:  @Controller('demo') … @Stream(counter) count(@StreamParams() p: { count?: number }) { … }
 * // client:  client.stream(counter, { count: 3 })   // Observable<{ n: number }>
 * // two-way: defineStream<{ room: string }, ChatLine, { text: string }>('demo/chat'):
 * //          client.channel(chat, { room }).send({ text })   // the third type is the client's messages
 * ```
 *
 * @param name The stream's full name, as clients use it (`<controller path>/<name>`).
 * @throws TypeError when the name is not a valid stream name (letters, digits and `. _ ~ -`
 *   separated by `/`, at most 512 characters).
 * @publicApi
 */
export function defineStream<Params extends object = Record<string, never>, Event = unknown, Input = unknown>(
  name: string,
): StreamContract<Params, Event, Input> {
  if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    throw new TypeError(
      `defineStream: invalid stream name ${JSON.stringify(name)}: use letters, digits and . _ ~ - separated by /, at most ${MAX_NAME_LENGTH} characters`,
    );
  }
  return Object.freeze({ name });
}

/** Whether a value is a stream contract (an object with a string `name`), as opposed to a plain name. */
export function isStreamContract(value: unknown): value is StreamContract<object, unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string';
}
