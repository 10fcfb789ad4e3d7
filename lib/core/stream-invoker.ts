import {
  ForbiddenException,
  Injectable,
  Logger,
  type ArgumentMetadata,
  type CanActivate,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { ApplicationConfig, ModuleRef } from '@nestjs/core';
import {
  BaseExceptionFilterContext,
  CUSTOM_ROUTE_ARGS_METADATA,
  EXCEPTION_FILTERS_METADATA,
  ExecutionContextHost,
  FORBIDDEN_MESSAGE,
  GuardsConsumer,
  GuardsContextCreator,
  InterceptorsConsumer,
  InterceptorsContextCreator,
  PipesConsumer,
  PipesContextCreator,
  ROUTE_ARGS_METADATA,
  containerOf,
  selectExceptionFilterMetadata,
  type ExceptionFilterMetadata,
  type NestContainer,
} from './nest-internals.js';
import { Observable, catchError, defer, from, isObservable, map, mergeMap, throwError, type Subscription } from 'rxjs';
import type { StreamArgMetadata } from '../decorators/stream-params.decorator.js';
import { StreamException, isExpectedError, toStreamException } from '../errors/stream-exception.js';
import { StreamEvent, toStreamEvent } from '../interfaces/stream-event.interface.js';
import { LONGLINK_CONTEXT_TYPE, STREAM_ARGS_METADATA } from '../longlink.constants.js';
import type { StreamCallImpl } from './stream-call.js';
import type { StreamDefinition } from './stream-definition.js';

type ContextArgs = [StreamCallImpl];

/** A handler parameter, resolved once at startup. */
interface PreparedArg {
  index: number;
  resolve: (call: StreamCallImpl, context: ExecutionContextHost) => unknown;
  metadata: ArgumentMetadata;
  pipes: PipeTransform[];
}

/** Everything the pipeline needs for one stream, built once. */
interface PreparedStream {
  guards: CanActivate[];
  interceptors: NestInterceptor[];
  filters: ExceptionFilterMetadata[];
  args: PreparedArg[];
  arity: number;
  /**
   * No guards, interceptors or filters (global ones included), no pipes and no custom param
   * decorators, and a handler that is not `async`: nothing can run between the subscribe and
   * the handler, so {@link StreamInvoker.openDirect} calls it synchronously with no rxjs layer.
   */
  direct: boolean;
}

class StreamExceptionFiltersContext extends BaseExceptionFilterContext {
  constructor(
    container: NestContainer,
    private readonly config: ApplicationConfig,
  ) {
    super(container);
  }

  create(instance: object, callback: Function, moduleKey: string): ExceptionFilterMetadata[] {
    this.moduleContext = moduleKey;
    // Most specific first: method, then class, then global filters.
    return this.createContext(instance as never, callback as never, EXCEPTION_FILTERS_METADATA).reverse();
  }

  override getGlobalMetadata<T extends unknown[]>(): T {
    return this.config.getGlobalFilters() as T;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return !!value && typeof (value as { then?: unknown }).then === 'function';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return !!value && typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * Runs Nest's pipeline for stream calls: guards → interceptors → pipes → handler, with
 * exception filters on every error (before or after the first event). The execution
 * context has type `'longlink'` and the {@link StreamCall} as its only argument.
 *
 * Built like Nest's own websocket and microservice context creators, from the core's
 * guards/interceptors/pipes consumers, with the application config so global enhancers
 * (`APP_GUARD`, `useGlobalGuards()`, ...) apply.
 */
@Injectable()
export class StreamInvoker {
  private readonly logger = new Logger('Longlink');
  private readonly guardsContextCreator: GuardsContextCreator;
  private readonly guardsConsumer = new GuardsConsumer();
  private readonly interceptorsContextCreator: InterceptorsContextCreator;
  private readonly interceptorsConsumer = new InterceptorsConsumer();
  private readonly pipesContextCreator: PipesContextCreator;
  private readonly pipesConsumer = new PipesConsumer();
  private readonly filtersContext: StreamExceptionFiltersContext;
  private readonly prepared = new WeakMap<StreamDefinition, PreparedStream>();
  private readonly failedFilters = new WeakSet<ExceptionFilterMetadata>();
  /** Class pipes of `@StreamParams(SomePipe)` / `@LastEventId(SomePipe)`, per host module. */
  private readonly classPipes = new Map<string, Map<Function, PipeTransform>>();
  private readonly container: NestContainer;

  constructor(moduleRef: ModuleRef, config: ApplicationConfig) {
    const container = containerOf(moduleRef);
    this.container = container;
    this.guardsContextCreator = new GuardsContextCreator(container, config);
    this.interceptorsContextCreator = new InterceptorsContextCreator(container, config);
    this.pipesContextCreator = new PipesContextCreator(container, config);
    this.filtersContext = new StreamExceptionFiltersContext(container, config);
  }

  /**
   * The stream of one call as an Observable of events. Nothing runs until it is
   * subscribed; unsubscribing aborts `call.signal` and stops the pipeline wherever it is
   * (a guard or async handler that resolves later no longer starts the upstream).
   * Errors arrive normalised as {@link StreamException}.
   *
   * `onOpen` runs once when the call is accepted: guards, interceptors and pipes passed and
   * the handler's stream (or a filter's replacement) is subscribed without failing.
   */
  open(def: StreamDefinition, call: StreamCallImpl, onOpen?: () => void): Observable<StreamEvent> {
    return new Observable<StreamEvent>((subscriber) => {
      let inner: Subscription | undefined;
      const args: ContextArgs = [call];
      let prepared: PreparedStream;
      try {
        prepared = this.prepare(def);
      } catch (error) {
        subscriber.error(this.normalize(error, def));
        return;
      }
      this.start(def, prepared, call, args, () => subscriber.closed)
        .then((stream) => {
          if (!stream || subscriber.closed) return;
          inner = stream
            .pipe(
              map(toStreamEvent),
              catchError((error: unknown) => this.handleError(error, def, prepared, args)),
            )
            .subscribe(subscriber);
          if (!subscriber.closed) onOpen?.();
        })
        .catch((error: unknown) => {
          if (subscriber.closed) return;
          inner = this.handleError(error, def, prepared, args).subscribe(subscriber);
          if (!subscriber.closed) onOpen?.();
        });
      return () => {
        inner?.unsubscribe();
        call.abort();
      };
    });
  }

  /**
   * The synchronous path: for a stream whose pipeline is empty (see `PreparedStream.direct`),
   * calls the handler now and returns its Observable itself, without wrapping it. The caller
   * maps values with `toStreamEvent`, normalises errors with {@link normalize}, aborts the call
   * when the subscription ends and signals `opened` once it has subscribed. Returns
   * `undefined` when the stream needs the full pipeline ({@link open}).
   */
  openDirect(def: StreamDefinition, call: StreamCallImpl): Observable<unknown> | undefined {
    let p: PreparedStream;
    try {
      p = this.prepare(def);
    } catch {
      return undefined; // open() reports it
    }
    if (!p.direct) return undefined;
    let result: unknown;
    try {
      const values: unknown[] = new Array(p.arity).fill(undefined);
      for (const arg of p.args) values[arg.index] = arg.resolve(call, undefined as never);
      result = def.callback.apply(def.instance, values);
      // A plain function that returns a Promise: still no pipeline to run, just the wait.
      if (isThenable(result)) return from(result).pipe(mergeMap((r) => this.toObservable(r, def)));
      return this.toObservable(result, def);
    } catch (error) {
      const normalized = this.normalize(error, def);
      return throwError(() => normalized);
    }
  }

  private async start(
    def: StreamDefinition,
    p: PreparedStream,
    call: StreamCallImpl,
    args: ContextArgs,
    isClosed: () => boolean,
  ): Promise<Observable<unknown> | undefined> {
    const allowed = await this.guardsConsumer.tryActivate(
      p.guards,
      args,
      def.instance as never,
      def.callback,
      LONGLINK_CONTEXT_TYPE,
    );
    if (!allowed) throw new ForbiddenException(FORBIDDEN_MESSAGE);
    if (isClosed()) return undefined;
    const handler = async (): Promise<Observable<unknown>> => {
      const values = await this.resolveArgs(def, p, call, args);
      if (isClosed()) return new Observable<never>();
      let result = def.callback.apply(def.instance, values);
      if (isThenable(result)) result = await result;
      return this.toObservable(result, def);
    };
    const result = await this.interceptorsConsumer.intercept(
      p.interceptors,
      args,
      def.instance as never,
      def.callback,
      handler,
      LONGLINK_CONTEXT_TYPE,
    );
    return this.toObservable(result, def);
  }

  private toObservable(result: unknown, def: StreamDefinition): Observable<unknown> {
    if (isObservable(result)) return result;
    if (isAsyncIterable(result)) return from(result);
    throw new TypeError(
      `Stream "${def.name}" (${def.location}) must return an Observable, a Promise of one or an AsyncIterable; got ${
        result === null ? 'null' : typeof result
      }`,
    );
  }

  private async resolveArgs(
    def: StreamDefinition,
    p: PreparedStream,
    call: StreamCallImpl,
    args: ContextArgs,
  ): Promise<unknown[]> {
    const values: unknown[] = new Array(p.arity).fill(undefined);
    if (p.args.length === 0) return values;
    const context = new ExecutionContextHost(args, def.controller as never, def.callback);
    context.setType(LONGLINK_CONTEXT_TYPE);
    for (const arg of p.args) {
      const raw = arg.resolve(call, context);
      values[arg.index] = arg.pipes.length
        ? await this.pipesConsumer.applyPipes(raw, arg.metadata as never, arg.pipes)
        : await raw;
    }
    return values;
  }

  private prepare(def: StreamDefinition): PreparedStream {
    const cached = this.prepared.get(def);
    if (cached) return cached;
    const { instance, callback, moduleKey, methodName } = def;
    const shared = this.pipesContextCreator.create(instance as never, callback, moduleKey);
    const paramtypes: unknown[] = Reflect.getMetadata('design:paramtypes', instance, methodName) ?? [];
    const own: StreamArgMetadata[] = Reflect.getMetadata(STREAM_ARGS_METADATA, def.controller, methodName) ?? [];
    const args: PreparedArg[] = own.map((a) => {
      const metatype = paramtypes[a.index] as ArgumentMetadata['metatype'];
      const own = a.pipes.map((pipe) => (typeof pipe === 'function' ? this.classPipe(def, pipe) : pipe));
      const pipes = [...shared, ...this.pipesContextCreator.createConcreteContext(own as never)] as PipeTransform[];
      switch (a.kind) {
        case 'params':
          return {
            index: a.index,
            resolve: (call: StreamCallImpl) => (a.data === undefined ? call.params : call.params[a.data]),
            metadata: { type: 'query', metatype, data: a.data },
            pipes,
          };
        case 'lastEventId':
          return {
            index: a.index,
            resolve: (call: StreamCallImpl) => call.lastEventId,
            metadata: { type: 'custom', metatype, data: undefined },
            pipes,
          };
        case 'call':
          return { index: a.index, resolve: (call: StreamCallImpl) => call, metadata: { type: 'custom' }, pipes: [] };
      }
    });
    // Param decorators made with Nest's createParamDecorator() work too.
    const routeArgs: Record<string, { index: number; factory?: Function; data?: unknown; pipes?: unknown[] }> =
      Reflect.getMetadata(ROUTE_ARGS_METADATA, def.controller, methodName) ?? {};
    for (const [key, meta] of Object.entries(routeArgs)) {
      if (!key.includes(CUSTOM_ROUTE_ARGS_METADATA) || typeof meta.factory !== 'function') {
        throw new TypeError(
          `${def.location}: HTTP parameter decorators (@Query, @Body, @Req, ...) do not apply to @Stream() handlers; use @StreamParams(), @LastEventId() or @StreamContext()`,
        );
      }
      const factory = meta.factory;
      args.push({
        index: meta.index,
        resolve: (_call, context) => factory(meta.data, context),
        metadata: { type: 'custom', metatype: paramtypes[meta.index] as never, data: meta.data as never },
        pipes: [...shared, ...this.pipesContextCreator.createConcreteContext((meta.pipes ?? []) as never)] as PipeTransform[],
      });
    }
    const guards = this.guardsContextCreator.create(instance as never, callback, moduleKey);
    const interceptors = this.interceptorsContextCreator.create(instance as never, callback, moduleKey);
    const filters = this.filtersContext.create(instance, callback, moduleKey);
    const prepared: PreparedStream = {
      guards,
      interceptors,
      filters,
      args,
      arity: Math.max(callback.length, paramtypes.length, ...args.map((a) => a.index + 1)),
      direct:
        guards.length === 0 &&
        interceptors.length === 0 &&
        filters.length === 0 &&
        args.length === own.length &&
        args.every((a) => a.pipes.length === 0) &&
        callback.constructor.name !== 'AsyncFunction',
    };
    this.prepared.set(def, prepared);
    return prepared;
  }

  /**
   * Resolves the class pipes given to the longlink parameter decorators as Nest does for a
   * route parameter's pipes: one instance per pipe class and host module, built by the host
   * module's injector (so the pipe's own dependencies are injected). Nest's scanner registers
   * route-parameter pipes while it scans; it does not read longlink's metadata, hence this.
   * An instance Nest already holds for that class in that module is reused.
   */
  async resolveClassPipes(defs: StreamDefinition[]): Promise<void> {
    for (const def of defs) {
      const own: StreamArgMetadata[] = Reflect.getMetadata(STREAM_ARGS_METADATA, def.controller, def.methodName) ?? [];
      for (const arg of own) {
        for (const pipe of arg.pipes) {
          if (typeof pipe !== 'function') continue;
          let byClass = this.classPipes.get(def.moduleKey);
          if (!byClass) this.classPipes.set(def.moduleKey, (byClass = new Map()));
          if (byClass.has(pipe)) continue;
          const host = this.container.getModules().get(def.moduleKey);
          if (!host) throw new TypeError(`${def.location}: its module is unknown to Nest; cannot resolve pipe ${pipe.name}`);
          const known = host.injectables.get(pipe)?.instance as PipeTransform | undefined;
          const instance = known ?? (await (host.getProviderByKey(ModuleRef).instance as ModuleRef).create(pipe));
          if (typeof instance?.transform !== 'function') {
            throw new TypeError(`${def.location}: ${pipe.name} given to a parameter decorator is not a pipe (no transform method)`);
          }
          byClass.set(pipe, instance);
        }
      }
    }
  }

  private classPipe(def: StreamDefinition, pipe: Function): PipeTransform {
    const instance = this.classPipes.get(def.moduleKey)?.get(pipe);
    if (!instance) throw new TypeError(`${def.location}: pipe ${pipe.name} was not resolved at bootstrap`);
    return instance;
  }

  /** Validates every stream's pipeline at startup, so mistakes fail fast. */
  prepareAll(defs: StreamDefinition[]): void {
    for (const def of defs) this.prepare(def);
  }

  private handleError(
    error: unknown,
    def: StreamDefinition,
    p: PreparedStream,
    args: ContextArgs,
  ): Observable<StreamEvent> {
    const filter = selectExceptionFilterMetadata(p.filters, error);
    if (!filter) return throwError(() => this.normalize(error, def));
    const host = new ExecutionContextHost(args, def.controller as never, def.callback);
    host.setType(LONGLINK_CONTEXT_TYPE);
    // A filter may return an Observable (used instead), return or throw an error (sent
    // instead). Anything else, or a filter that crashes (e.g. an HTTP-only filter calling
    // response.status()), leaves the original error in place.
    const settle = (value: unknown): Observable<StreamEvent> => {
      if (isObservable(value)) return value.pipe(map(toStreamEvent));
      throw value instanceof Error ? value : error;
    };
    return defer(() => {
      const out: unknown = filter.func(error, host);
      return isThenable(out) ? from(out).pipe(mergeMap(settle)) : settle(out);
    }).pipe(
      catchError((e: unknown) => {
        if (e !== error && !isExpectedError(e)) {
          if (!this.failedFilters.has(filter)) {
            // Typically an HTTP-only filter (response.status()): say so once, not per request.
            this.failedFilters.add(filter);
            this.logger.warn(
              `An exception filter failed on stream "${def.name}" (${e instanceof Error ? e.message : String(e)}); ` +
                `the original error is sent instead. Filters that apply to streams should check host.getType() === 'longlink'.`,
            );
          }
          return throwError(() => this.normalize(error, def));
        }
        return throwError(() => this.normalize(e, def));
      }),
    );
  }

  /** Turns anything thrown into a {@link StreamException}; unexpected errors are logged once here. */
  normalize(error: unknown, def: StreamDefinition): StreamException {
    const exception = toStreamException(error);
    if (!isExpectedError(error)) {
      this.logger.error(
        `Stream "${def.name}" failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
    }
    return exception;
  }
}
