import { RequestMapping, RequestMethod, SetMetadata } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { isStreamContract, type StreamContract } from '../contract/stream-contract.js';
import type { StreamOptions } from '../interfaces/longlink-options.interface.js';
import type { StreamEvent } from '../interfaces/stream-event.interface.js';
import { STREAM_METADATA } from '../longlink.constants.js';

/** What `@Stream()` stores on a handler. */
export interface StreamMetadata {
  /** Name within the controller; `undefined` means the method name. */
  name: string | undefined;
  options: StreamOptions;
  /** The full name of the contract bound with `@Stream(contract)`; checked against the computed name at startup. */
  contract?: string;
}

/** What a handler bound to a contract with event data `Event` may return. */
export type StreamHandlerResult<Event> =
  Observable<Event | StreamEvent<Event>> | Promise<Observable<Event | StreamEvent<Event>>> | AsyncIterable<Event | StreamEvent<Event>>;

/**
 * The decorator `@Stream(contract)` returns: it accepts only a method whose result emits the
 * contract's event data (plain, or wrapped by `tracked()`).
 */
export type TypedStreamDecorator<Event> = <Handler extends (...args: never[]) => StreamHandlerResult<Event>>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<Handler>,
) => void;

/**
 * Marks a controller method as a stream handler. The method returns an `Observable`
 * (or a Promise of one, or an async iterable); each value is one event, `tracked(id, data)`
 * gives it an event id.
 *
 * - **SSE**: the stream is an ordinary Nest route of its controller, `GET <name>` (or
 *   `POST <name>` with `{ sse: { method: 'POST' } }`), so the global prefix (and its
 *   `exclude`), versioning, `RouterModule` paths and middleware bound with `forRoutes()`
 *   apply to it exactly as to a `@Get(name)` of the same controller; the request is
 *   served by the stream pipeline, not by Nest's HTTP handler.
 * - **WebSocket / gRPC**: the stream's name is `<controller path>/<name>`, prefixed with
 *   `v<version>/` when the controller or the method declares a version (README "Names and
 *   routes").
 *
 * Only writes metadata: the longlink marker, and Nest's own route metadata (the same that
 * `@Get()`/`@Post()` write) so that Nest registers the route.
 *
 * @param name Name within the controller (default: the method name).
 * @param options Transports, flow control and SSE options for this stream.
 * @publicApi
 */
export function Stream(name?: string, options?: StreamOptions): MethodDecorator;
/**
 * Binds a handler to a typed contract made with `defineStream()` (see `defineStream`). The
 * stream's name within the controller is the contract name's last segment, and the full name
 * must equal the contract's name (checked at startup: bind `defineStream('demo/counter')` in
 * `@Controller('demo')`). The compiler rejects a handler whose returned Observable does not
 * emit the contract's event data.
 *
 * @param contract The contract, shared with the client.
 * @param options Transports, flow control and SSE options for this stream.
 * @publicApi
 */
export function Stream<Params extends object, Event>(contract: StreamContract<Params, Event>, options?: StreamOptions): TypedStreamDecorator<Event>;
export function Stream(nameOrContract?: string | StreamContract<object, unknown>, options: StreamOptions = {}): MethodDecorator {
  const contract = isStreamContract(nameOrContract) ? nameOrContract.name : undefined;
  const name = contract !== undefined ? contract.slice(contract.lastIndexOf('/') + 1) : (nameOrContract as string | undefined);
  const metadata: StreamMetadata = contract !== undefined ? { name, options, contract } : { name, options };
  return (target, key, descriptor) => {
    SetMetadata(STREAM_METADATA, metadata)(target, key, descriptor);
    const method = options.sse?.method === 'POST' ? RequestMethod.POST : RequestMethod.GET;
    RequestMapping({ path: name ?? String(key), method })(target, key, descriptor);
  };
}
