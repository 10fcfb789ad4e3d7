import { Logger } from '@nestjs/common';
import type { ApplicationConfig } from '@nestjs/core';
import { catchError, defer, from, isObservable, map, mergeMap, throwError, type Observable } from 'rxjs';
import { StreamException, isExpectedError, toStreamException } from '../errors/stream-exception.js';
import { StreamEvent, toStreamEvent } from '../interfaces/stream-event.interface.js';
import { StreamExceptionFilter } from '../errors/stream-exception.filter.js';
import { LONGLINK_CONTEXT_TYPE, LONGLINK_LOGGER_CONTEXT } from '../longlink.constants.js';
import {
  BaseExceptionFilterContext,
  EXCEPTION_FILTERS_METADATA,
  ExecutionContextHost,
  selectExceptionFilterMetadata,
  type ExceptionFilterMetadata,
  type NestContainer,
} from '../internals/nest.js';
import type { StreamCallImpl } from './stream-call.js';
import type { StreamDefinition } from './stream-definition.js';

class StreamExceptionFiltersContext extends BaseExceptionFilterContext {
  constructor(
    container: NestContainer,
    private readonly config: ApplicationConfig,
  ) {
    super(container);
  }

  create(instance: object, callback: StreamDefinition['callback'], moduleKey: string): ExceptionFilterMetadata[] {
    this.moduleContext = moduleKey;
    // Most specific first: method, then class, then global filters.
    return this.createContext<unknown[], ExceptionFilterMetadata[]>(instance, callback as never, EXCEPTION_FILTERS_METADATA).reverse();
  }

  override getGlobalMetadata<T extends unknown[]>(): T {
    // The module's own HTTP filter has nothing to do for streams (they answer errors themselves),
    // and must not shadow an application's global filter.
    return this.config.getGlobalFilters().filter((filter) => !(filter instanceof StreamExceptionFilter)) as T;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return !!value && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * The exception side of the stream pipeline: a stream's exception filters (method, class,
 * global), running them on an error (before or after the first event), and normalising
 * whatever is left into a {@link StreamException} (logging unexpected errors).
 */
export class StreamExceptionHandler {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  private readonly filtersContext: StreamExceptionFiltersContext;
  private readonly failedFilters = new WeakSet<ExceptionFilterMetadata>();

  constructor(container: NestContainer, config: ApplicationConfig) {
    this.filtersContext = new StreamExceptionFiltersContext(container, config);
  }

  /** The filters of a stream, most specific first. */
  create(def: StreamDefinition): ExceptionFilterMetadata[] {
    return this.filtersContext.create(def.instance, def.callback, def.moduleKey);
  }

  /**
   * Runs the first filter that catches `error`. A filter may return an Observable (used
   * instead), return or throw an error (sent instead). Anything else, or a filter that
   * crashes (e.g. an HTTP-only filter calling response.status()), leaves the original error.
   */
  handle(error: unknown, def: StreamDefinition, filters: ExceptionFilterMetadata[], args: [StreamCallImpl]): Observable<StreamEvent> {
    const filter = selectExceptionFilterMetadata(filters, error);
    if (!filter) return throwError(() => this.normalize(error, def));
    const host = new ExecutionContextHost(args, def.controller as never, def.callback);
    host.setType(LONGLINK_CONTEXT_TYPE);
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
      this.logger.error(`Stream "${def.name}" failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    return exception;
  }
}
