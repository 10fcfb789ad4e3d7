import { SetMetadata } from '@nestjs/common';
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
 * gives it an event id. The stream's full name is `<controller path>/<name>`, and it is
 * served as SSE at `GET /<controller path>/<name>`.
 *
 * Only writes metadata; the module discovers handlers at startup.
 *
 * @param name Name within the controller (default: the method name).
 * @param options Transports and flow control for this stream.
 * @publicApi
 */
export function Stream(name?: string, options: StreamOptions = {}): MethodDecorator {
  const metadata: StreamMetadata = { name, options };
  return SetMetadata(STREAM_METADATA, metadata);
}
