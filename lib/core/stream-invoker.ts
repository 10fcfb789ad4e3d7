import { ForbiddenException, Injectable, type CanActivate, type NestInterceptor } from '@nestjs/common';
import { ApplicationConfig, ModuleRef } from '@nestjs/core';
import { Observable, catchError, from, isObservable, map, mergeMap, throwError, type Subscription } from 'rxjs';
import type { StreamException } from '../errors/stream-exception.js';
import { StreamEvent, toStreamEvent } from '../interfaces/stream-event.interface.js';
import { LONGLINK_CONTEXT_TYPE } from '../longlink.constants.js';
import {
  FORBIDDEN_MESSAGE,
  GuardsConsumer,
  GuardsContextCreator,
  InterceptorsConsumer,
  InterceptorsContextCreator,
  containerOf,
  type ExceptionFilterMetadata,
} from '../internals/nest.js';
import { collectHolds } from './open-barrier.js';
import type { StreamCallImpl } from './stream-call.js';
import type { StreamDefinition } from './stream-definition.js';
import { StreamExceptionHandler } from './stream-exception-handler.js';
import { StreamParamsFactory, type PreparedParams } from './stream-params-factory.js';

type ContextArgs = [StreamCallImpl];

/** Everything the pipeline needs for one stream, built once. */
interface PreparedStream {
  guards: CanActivate[];
  interceptors: NestInterceptor[];
  filters: ExceptionFilterMetadata[];
  params: PreparedParams;
  /**
   * No guards, interceptors or filters (global ones included), no pipes and no custom param
   * decorators, and a handler that is not `async`: nothing can run between the subscribe and
   * the handler, so {@link StreamInvoker.openDirect} calls it synchronously with no rxjs layer.
   */
  direct: boolean;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return !!value && typeof (value as { then?: unknown }).then === 'function';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return !!value && typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * The stream context creator: runs Nest's pipeline for stream calls, guards → interceptors →
 * pipes → handler, with exception filters on every error (before or after the first event).
 * The execution context has type `'longlink'` and the {@link StreamCall} as its only argument.
 * Parameters and their pipes: {@link StreamParamsFactory}; filters and error normalisation:
 * {@link StreamExceptionHandler}.
 *
 * Built like Nest's own websocket and microservice context creators, from the core's
 * guards/interceptors consumers, with the application config so global enhancers
 * (`APP_GUARD`, `useGlobalGuards()`, ...) apply.
 */
@Injectable()
export class StreamInvoker {
  private readonly guardsContextCreator: GuardsContextCreator;
  private readonly guardsConsumer = new GuardsConsumer();
  private readonly interceptorsContextCreator: InterceptorsContextCreator;
  private readonly interceptorsConsumer = new InterceptorsConsumer();
  private readonly params: StreamParamsFactory;
  private readonly exceptions: StreamExceptionHandler;
  private readonly prepared = new WeakMap<StreamDefinition, PreparedStream>();

  constructor(moduleRef: ModuleRef, config: ApplicationConfig) {
    const container = containerOf(moduleRef);
    this.guardsContextCreator = new GuardsContextCreator(container, config);
    this.interceptorsContextCreator = new InterceptorsContextCreator(container, config);
    this.params = new StreamParamsFactory(container, config);
    this.exceptions = new StreamExceptionHandler(container, config);
  }

  /**
   * The stream of one call as an Observable of events. Nothing runs until it is
   * subscribed; unsubscribing aborts `call.signal` and stops the pipeline wherever it is
   * (a guard or async handler that resolves after that does not start the upstream).
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
          let held: Promise<unknown> | undefined;
          [inner, held] = collectHolds(() =>
            stream
              .pipe(
                map(toStreamEvent),
                catchError((error: unknown) => this.exceptions.handle(error, def, prepared.filters, args)),
              )
              .subscribe(subscriber),
          );
          const accepted = () => {
            call.onReady?.();
            if (!subscriber.closed) onOpen?.();
          };
          if (held === undefined) accepted();
          else held.then(accepted, () => undefined);
        })
        .catch((error: unknown) => {
          if (subscriber.closed) return;
          inner = this.exceptions.handle(error, def, prepared.filters, args).subscribe(subscriber);
          if (!subscriber.closed) onOpen?.();
        })
        .catch((error: unknown) => {
          // A transport failed while answering the refusal: no rejection is left unhandled.
          if (!subscriber.closed) subscriber.error(this.normalize(error, def));
        })
        .catch(() => undefined);
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
    try {
      const result: unknown = def.callback.apply(def.instance, this.params.resolvePlain(p.params, call));
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
    const allowed = await this.guardsConsumer.tryActivate(p.guards, args, def.instance, def.callback, LONGLINK_CONTEXT_TYPE);
    if (!allowed) throw new ForbiddenException(FORBIDDEN_MESSAGE);
    if (isClosed()) return undefined;
    const handler = async (): Promise<Observable<unknown>> => {
      const values = await this.params.resolve(def, p.params, call, args);
      if (isClosed()) return new Observable<never>();
      let result = def.callback.apply(def.instance, values);
      if (isThenable(result)) result = await result;
      return this.toObservable(result, def);
    };
    const result = await this.interceptorsConsumer.intercept(p.interceptors, args, def.instance, def.callback, handler, LONGLINK_CONTEXT_TYPE);
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

  private prepare(def: StreamDefinition): PreparedStream {
    const cached = this.prepared.get(def);
    if (cached) return cached;
    const { instance, callback, moduleKey } = def;
    const params = this.params.create(def);
    const guards = this.guardsContextCreator.create(instance, callback, moduleKey);
    const interceptors = this.interceptorsContextCreator.create(instance, callback, moduleKey);
    const filters = this.exceptions.create(def);
    const prepared: PreparedStream = {
      guards,
      interceptors,
      filters,
      params,
      direct:
        guards.length === 0 && interceptors.length === 0 && filters.length === 0 && params.plain && callback.constructor.name !== 'AsyncFunction',
    };
    this.prepared.set(def, prepared);
    return prepared;
  }

  /** Resolves the class pipes of every stream's parameters (see {@link StreamParamsFactory.resolveClassPipes}). */
  resolveClassPipes(defs: StreamDefinition[]): Promise<void> {
    return this.params.resolveClassPipes(defs);
  }

  /** Validates every stream's pipeline at startup, so mistakes fail fast. */
  prepareAll(defs: StreamDefinition[]): void {
    for (const def of defs) this.prepare(def);
  }

  /** Turns anything thrown into a {@link StreamException}; unexpected errors are logged once here. */
  normalize(error: unknown, def: StreamDefinition): StreamException {
    return this.exceptions.normalize(error, def);
  }
}
