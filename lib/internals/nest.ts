/**
 * The one door to Nest's internals (`@nestjs/core/internal`, `@nestjs/common/internal`,
 * `@nestjs/common/constants`, the container, how routes reach the HTTP adapter): nothing
 * else in the module imports them.
 *
 * Why: streams run Nest's own pipeline (guards, interceptors, pipes, exception filters, with
 * the application's global enhancers) the way Nest's websockets and microservices packages
 * do, and those packages build it from these same consumers and context creators, which Nest
 * exports only as internals. Route metadata keys (`path`, `__version__`, `host`, route args)
 * are read so that a `@Stream()` honours a controller's `@Controller()` options and Nest's
 * `createParamDecorator()`. Upgrading Nest: check this file; `nest.spec.ts` beside it, the unit
 * specs of the invoker and registry and the conformance suite fail if a shape changed.
 *
 * Checked once, when the first `StreamInvoker` is built ({@link containerOf}): every class
 * and key imported here is there, and `ModuleRef` holds the container. Otherwise bootstrap
 * fails naming the `@nestjs/core` version found and the one this was written for.
 */
import type { ModuleRef } from '@nestjs/core';
import type { NestContainer } from '@nestjs/core/injector/container.js';
import {
  CUSTOM_ROUTE_ARGS_METADATA,
  EXCEPTION_FILTERS_METADATA,
  HOST_METADATA,
  PATH_METADATA,
  ROUTE_ARGS_METADATA,
  VERSION_METADATA,
} from '@nestjs/common/constants.js';
import { selectExceptionFilterMetadata, type ExceptionFilterMetadata } from '@nestjs/common/internal';
import {
  BaseExceptionFilterContext,
  ExecutionContextHost,
  FORBIDDEN_MESSAGE,
  GuardsConsumer,
  GuardsContextCreator,
  InterceptorsConsumer,
  InterceptorsContextCreator,
  PipesConsumer,
  PipesContextCreator,
} from '@nestjs/core/internal';
import { LonglinkConfigError } from '../errors/longlink-config.error.js';
import { STREAM_METADATA } from '../longlink.constants.js';
import { shapeError } from './package-version.js';

export {
  BaseExceptionFilterContext,
  CUSTOM_ROUTE_ARGS_METADATA,
  EXCEPTION_FILTERS_METADATA,
  ExecutionContextHost,
  FORBIDDEN_MESSAGE,
  GuardsConsumer,
  GuardsContextCreator,
  HOST_METADATA,
  InterceptorsConsumer,
  InterceptorsContextCreator,
  PATH_METADATA,
  PipesConsumer,
  PipesContextCreator,
  ROUTE_ARGS_METADATA,
  selectExceptionFilterMetadata,
  VERSION_METADATA,
  type ExceptionFilterMetadata,
};
export type { NestContainer };

/** The Nest major this door was written against. */
const NEST_EXPECTED = '12.x';

/**
 * What this door relies on, by name: `undefined` when all is there, else the first missing
 * piece. Reads the live bindings, so it sees what the installed Nest exports.
 */
export function missingNestInternal(): string | undefined {
  const classes = {
    BaseExceptionFilterContext,
    ExecutionContextHost,
    GuardsConsumer,
    GuardsContextCreator,
    InterceptorsConsumer,
    InterceptorsContextCreator,
    PipesConsumer,
    PipesContextCreator,
    selectExceptionFilterMetadata,
  };
  for (const [name, value] of Object.entries(classes)) if (typeof value !== 'function') return name;
  const keys = {
    CUSTOM_ROUTE_ARGS_METADATA,
    EXCEPTION_FILTERS_METADATA,
    HOST_METADATA,
    PATH_METADATA,
    ROUTE_ARGS_METADATA,
    VERSION_METADATA,
    FORBIDDEN_MESSAGE,
  };
  for (const [name, value] of Object.entries(keys)) if (typeof value !== 'string') return name;
  const consumers: [string, { prototype: unknown }, string][] = [
    ['GuardsConsumer', GuardsConsumer, 'tryActivate'],
    ['GuardsContextCreator', GuardsContextCreator, 'create'],
    ['InterceptorsConsumer', InterceptorsConsumer, 'intercept'],
    ['InterceptorsContextCreator', InterceptorsContextCreator, 'create'],
    ['PipesConsumer', PipesConsumer, 'applyPipes'],
    ['PipesContextCreator', PipesContextCreator, 'create'],
    ['PipesContextCreator', PipesContextCreator, 'createConcreteContext'],
    ['BaseExceptionFilterContext', BaseExceptionFilterContext, 'createContext'],
    ['BaseExceptionFilterContext', BaseExceptionFilterContext, 'createConcreteContext'],
    ['ExecutionContextHost', ExecutionContextHost, 'setType'],
  ];
  for (const [name, cls, method] of consumers) {
    if (typeof (cls.prototype as Record<string, unknown>)[method] !== 'function') return `${name}.prototype.${method}()`;
  }
  return undefined;
}

let checked = false;

/**
 * The application's container behind a `ModuleRef` (a protected field: Nest's own packages
 * receive the container directly). Checks the whole door the first time, and the container
 * every time; fails bootstrap naming the Nest version if a shape is not there.
 */
export function containerOf(moduleRef: ModuleRef): NestContainer {
  if (!checked) {
    const missing = missingNestInternal();
    if (missing) throw shapeError('stream pipeline', '@nestjs/core', NEST_EXPECTED, missing);
    checked = true;
  }
  const container = (moduleRef as unknown as { container?: NestContainer }).container;
  if (!container || typeof container.getModules !== 'function') {
    throw shapeError('stream pipeline', '@nestjs/core', NEST_EXPECTED, 'a container on ModuleRef (ModuleRef.container.getModules())');
  }
  return container;
}

/*
 * How Nest registers HTTP routes.
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
