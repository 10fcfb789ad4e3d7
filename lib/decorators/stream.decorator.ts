import { RequestMapping, RequestMethod, SetMetadata } from '@nestjs/common';
import type { StreamOptions } from '../interfaces/longlink-options.interface.js';
import { STREAM_METADATA } from '../longlink.constants.js';

/** What `@Stream()` stores on a handler. */
export interface StreamMetadata {
  /** Name within the controller; `undefined` means the method name. */
  name: string | undefined;
  options: StreamOptions;
}

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
export function Stream(name?: string, options: StreamOptions = {}): MethodDecorator {
  const metadata: StreamMetadata = { name, options };
  return (target, key, descriptor) => {
    SetMetadata(STREAM_METADATA, metadata)(target, key, descriptor);
    const method = options.sse?.method === 'POST' ? RequestMethod.POST : RequestMethod.GET;
    RequestMapping({ path: name ?? String(key), method })(target, key, descriptor);
  };
}
