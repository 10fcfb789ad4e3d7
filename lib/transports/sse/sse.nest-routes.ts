import { LonglinkConfigError } from '../../errors/longlink-config.error.js';
import { STREAM_METADATA } from '../../longlink.constants.js';

/**
 * The one door to how Nest registers HTTP routes (Nest internals; nothing else in the module
 * relies on them).
 *
 * Why: an SSE stream must be an ordinary route of its controller, so that Nest's own logic
 * gives it the global prefix (and `exclude`), URI/header/media-type versioning, `RouterModule`
 * paths and `forRoutes()` middleware exactly as a `@Get()` beside it, with no copy of that
 * logic here and no reliance on Express's or Fastify's router internals. `@Stream()` writes
 * Nest's route metadata, so Nest's `RouterExplorer` computes the paths and registers the route
 * through the HTTP adapter's public `get()`/`post()`; but the request must be served by the
 * stream pipeline (context type `longlink`, guards before any byte), not by Nest's HTTP
 * handler. So the adapter's `get`/`post` are wrapped on this adapter instance before Nest
 * registers routes, and a handler that carries the `@Stream()` marker is swapped for ours.
 *
 * What this relies on (Nest 12): the handler Nest registers has the method's metadata copied
 * onto it (`RouterExplorer.copyMetadataToCallback`, also on the deferred path of the
 * `specificity` route resolution strategy), so it carries the very `@Stream()` metadata
 * object of the method. If that ever stops being true, no stream route is recognised, and the SSE transport fails
 * bootstrap naming the stream (see `SseTransport.onModuleInit`), instead of serving streams
 * through Nest's HTTP handler.
 */

/** One route Nest is registering for a `@Stream()` handler. */
export interface NestStreamRoute {
  method: 'GET' | 'POST';
  /** The full path Nest computed (prefix, version, module and controller paths). */
  path: string;
  /** The `@Stream()` metadata object of the handler (identifies the method). */
  metadata: object;
  /** The handler's name: `<Controller>.<method>` on Nest's usual path, else anything. */
  handlerName: string;
  /** Registers a handler at this route on the adapter (call any number of times, or not at all). */
  register(handler: (...args: unknown[]) => unknown): void;
}

interface RouteRegistrar {
  get(...args: unknown[]): unknown;
  post(...args: unknown[]): unknown;
}

const HOOKED = Symbol('longlink:routes-hooked');

/**
 * Wraps `adapter.get` / `adapter.post` (this instance only) so that `onStream` receives the
 * stream routes Nest registers; other routes pass through unchanged. Idempotent per adapter.
 */
export function interceptNestStreamRoutes(adapter: object, onStream: (route: NestStreamRoute) => void): void {
  const target = adapter as RouteRegistrar & { [HOOKED]?: boolean };
  if (target[HOOKED]) return;
  if (typeof target.get !== 'function' || typeof target.post !== 'function') {
    throw new LonglinkConfigError('LonglinkModule: the HTTP adapter has no get()/post(): SSE streams cannot be routed');
  }
  for (const method of ['GET', 'POST'] as const) {
    const key = method === 'GET' ? 'get' : 'post';
    const original = target[key].bind(target);
    target[key] = (...args: unknown[]) => {
      const handler = args[args.length - 1];
      const path = args[0];
      if (typeof handler !== 'function' || typeof path !== 'string' || !Reflect.hasMetadata(STREAM_METADATA, handler)) {
        return original(...args);
      }
      onStream({
        method,
        path,
        metadata: Reflect.getMetadata(STREAM_METADATA, handler) as object,
        handlerName: handler.name,
        register: (h) => void original(path, h),
      });
      return undefined;
    };
  }
  Object.defineProperty(target, HOOKED, { value: true });
}
