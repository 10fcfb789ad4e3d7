import type { PipeTransform, Type } from '@nestjs/common';
import { STREAM_ARGS_METADATA } from '../longlink.constants.js';

/** What a longlink parameter decorator injects. */
export type StreamArgKind = 'params' | 'lastEventId' | 'call';

/** One parameter of a stream handler, as stored by the decorators. */
export interface StreamArgMetadata {
  index: number;
  kind: StreamArgKind;
  /** For `params`: a single property to pick. */
  data?: string;
  pipes: (Type<PipeTransform> | PipeTransform)[];
}

function argDecorator(kind: StreamArgKind, data?: string, pipes: (Type<PipeTransform> | PipeTransform)[] = []) {
  return (target: object, key: string | symbol | undefined, index: number): void => {
    if (key === undefined) throw new TypeError('longlink parameter decorators apply to method parameters only');
    const existing = (Reflect.getMetadata(STREAM_ARGS_METADATA, target.constructor, key) as StreamArgMetadata[] | undefined) ?? [];
    Reflect.defineMetadata(
      STREAM_ARGS_METADATA,
      [...existing, { index, kind, data, pipes }],
      target.constructor,
      key,
    );
  };
}

/**
 * Injects the subscription's params object (SSE: query string; WS: `params`; gRPC: request).
 * Pipes apply with `type: 'query'`, so `ValidationPipe` (global or listed here) validates
 * DTOs and, with `transform: true`, coerces query-string values (`@Type(() => Number)`).
 *
 * @param property Inject one property of the params object instead of all of it.
 * @param pipes Pipes for this parameter only.
 * @publicApi
 */
export function StreamParams(...pipes: (Type<PipeTransform> | PipeTransform)[]): ParameterDecorator;
export function StreamParams(property: string, ...pipes: (Type<PipeTransform> | PipeTransform)[]): ParameterDecorator;
export function StreamParams(
  propertyOrPipe?: string | Type<PipeTransform> | PipeTransform,
  ...pipes: (Type<PipeTransform> | PipeTransform)[]
): ParameterDecorator {
  if (typeof propertyOrPipe === 'string') return argDecorator('params', propertyOrPipe, pipes);
  return argDecorator('params', undefined, propertyOrPipe === undefined ? pipes : [propertyOrPipe, ...pipes]);
}

/**
 * Injects the last event id the client saw (`Last-Event-ID` header or `lastEventId` query
 * value on SSE, `lastEventId` on WS, `last_event_id` on gRPC), or `undefined`.
 *
 * @publicApi
 */
export function LastEventId(...pipes: (Type<PipeTransform> | PipeTransform)[]): ParameterDecorator {
  return argDecorator('lastEventId', undefined, pipes);
}

/**
 * Injects the {@link StreamCall}: transport name, headers/metadata, cookies, an `AbortSignal`
 * and the raw request.
 *
 * @publicApi
 */
export function StreamContext(): ParameterDecorator {
  return argDecorator('call');
}
