import type { PipeTransform, Type } from '@nestjs/common';
import { STREAM_ARGS_METADATA } from '../longlink.constants.js';

/** What a longlink parameter decorator injects. */
export type StreamArgKind = 'params' | 'lastEventId' | 'call' | 'input';

/** Options of `@StreamInput()`. */
export interface StreamInputParamOptions {
  /**
   * The class of one message's data (a DTO), given to the pipes as `metatype` (an
   * `Observable<T>` parameter's own type says nothing about `T`), so `ValidationPipe` validates
   * and transforms each message.
   */
  type?: Type<unknown>;
  /** Emit `{ id, data }` (the client's message id with the data) instead of the data alone. */
  envelope?: boolean;
}

/** One parameter of a stream handler, as stored by the decorators. */
export interface StreamArgMetadata {
  index: number;
  kind: StreamArgKind;
  /** For `params`: a single property to pick. */
  data?: string;
  /** For `input`: its options. */
  input?: StreamInputParamOptions;
  pipes: (Type<PipeTransform> | PipeTransform)[];
}

function argDecorator(kind: StreamArgKind, data?: string, pipes: (Type<PipeTransform> | PipeTransform)[] = [], input?: StreamInputParamOptions) {
  return (target: object, key: string | symbol | undefined, index: number): void => {
    if (key === undefined) throw new TypeError('longlink parameter decorators apply to method parameters only');
    const existing = (Reflect.getMetadata(STREAM_ARGS_METADATA, target.constructor, key) as StreamArgMetadata[] | undefined) ?? [];
    Reflect.defineMetadata(
      STREAM_ARGS_METADATA,
      [...existing, input ? { index, kind, data, pipes, input } : { index, kind, data, pipes }],
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

function isPipe(value: unknown): value is Type<PipeTransform> | PipeTransform {
  if (typeof value === 'function') return typeof (value.prototype as { transform?: unknown })?.transform === 'function';
  return !!value && typeof (value as { transform?: unknown }).transform === 'function';
}

/**
 * Injects the client messages of a two-way stream (`@Stream(name, { input: true })`,
 * PROTOCOL.md §7) as an `Observable`: one value per message, in the order the client sent
 * them; it completes when the client half-closes or the subscription ends. The pipes (the
 * global ones, then these) run on **each** message with `type: 'body'`; a message they refuse
 * gets a refusal of its own and the subscription goes on. Subscribe it once (`share()` it to
 * read it twice).
 *
 * @example
 * ```ts
 * @Stream('room', { input: true })
 * room(@StreamInput({ type: ChatMessage }, new ValidationPipe()) input$: Observable<ChatMessage>) {
 *   return input$.pipe(map((m) => ({ echo: m.text })));
 * }
 * ```
 * @param options `type`: the message DTO class for the pipes; `envelope: true` emits `{ id, data }`.
 * @param pipes Pipes run on each message.
 * @publicApi
 */
export function StreamInput(...pipes: (Type<PipeTransform> | PipeTransform)[]): ParameterDecorator;
export function StreamInput(options: StreamInputParamOptions, ...pipes: (Type<PipeTransform> | PipeTransform)[]): ParameterDecorator;
export function StreamInput(
  optionsOrPipe?: StreamInputParamOptions | Type<PipeTransform> | PipeTransform,
  ...pipes: (Type<PipeTransform> | PipeTransform)[]
): ParameterDecorator {
  if (optionsOrPipe === undefined || isPipe(optionsOrPipe)) {
    return argDecorator('input', undefined, optionsOrPipe === undefined ? pipes : [optionsOrPipe, ...pipes], {});
  }
  return argDecorator('input', undefined, pipes, optionsOrPipe);
}
