/**
 * The one door to Nest's internals (`@nestjs/core/internal`, `@nestjs/common/internal`,
 * `@nestjs/common/constants`, the container): nothing else in the module imports them, except
 * `transports/sse/sse.nest-routes.ts`, the door to Nest's HTTP routing.
 *
 * Why: streams run Nest's own pipeline (guards, interceptors, pipes, exception filters, with
 * the application's global enhancers) the way Nest's websockets and microservices packages
 * do, and those packages build it from these same consumers and context creators, which Nest
 * exports only as internals. Route metadata keys (`path`, `__version__`, `host`, route args)
 * are read so that a `@Stream()` honours a controller's `@Controller()` options and Nest's
 * `createParamDecorator()`. Upgrading Nest: check this file and `sse.nest-routes.ts`; the unit
 * specs of the invoker and registry and the conformance suite fail if a shape changed.
 */
import type { ModuleRef } from '@nestjs/core';
import type { NestContainer } from '@nestjs/core/injector/container.js';

export {
  CUSTOM_ROUTE_ARGS_METADATA,
  EXCEPTION_FILTERS_METADATA,
  HOST_METADATA,
  PATH_METADATA,
  ROUTE_ARGS_METADATA,
  VERSION_METADATA,
} from '@nestjs/common/constants.js';
export { selectExceptionFilterMetadata, type ExceptionFilterMetadata } from '@nestjs/common/internal';
export {
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
export type { NestContainer };

/**
 * The application's container behind a `ModuleRef` (a protected field: Nest's own packages
 * receive the container directly). Checked once, with a clear error if Nest changed it.
 */
export function containerOf(moduleRef: ModuleRef): NestContainer {
  const container = (moduleRef as unknown as { container?: NestContainer }).container;
  if (!container || typeof container.getModules !== 'function') {
    throw new Error('LonglinkModule: this version of Nest keeps no container on ModuleRef; the stream pipeline cannot be built');
  }
  return container;
}
