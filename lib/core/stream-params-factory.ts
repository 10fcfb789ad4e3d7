import type { ArgumentMetadata, PipeTransform, Type } from '@nestjs/common';
import { ModuleRef, type ApplicationConfig } from '@nestjs/core';
import type { StreamArgMetadata } from '../decorators/stream-params.decorator.js';
import { LONGLINK_CONTEXT_TYPE, STREAM_ARGS_METADATA } from '../longlink.constants.js';
import {
  CUSTOM_ROUTE_ARGS_METADATA,
  ExecutionContextHost,
  PipesConsumer,
  PipesContextCreator,
  ROUTE_ARGS_METADATA,
  type NestContainer,
} from '../internals/nest.js';
import type { StreamCallImpl } from './stream-call.js';
import type { StreamDefinition } from './stream-definition.js';

/** A handler parameter, resolved once at startup. */
export interface PreparedArg {
  index: number;
  resolve: (call: StreamCallImpl, context: ExecutionContextHost) => unknown;
  metadata: ArgumentMetadata;
  pipes: PipeTransform[];
}

/** A handler's parameters, built once per stream. */
export interface PreparedParams {
  args: PreparedArg[];
  arity: number;
  /** No pipe on any parameter and no custom (`createParamDecorator()`) parameter: values can be read synchronously. */
  plain: boolean;
}

/**
 * The parameters of stream handlers: `@StreamParams()`, `@LastEventId()`, `@StreamContext()`
 * and Nest's `createParamDecorator()` ones, with their pipes (global, class, method and
 * parameter pipes, like a route's).
 */
export class StreamParamsFactory {
  private readonly pipesContextCreator: PipesContextCreator;
  private readonly pipesConsumer = new PipesConsumer();
  /** Class pipes of `@StreamParams(SomePipe)` / `@LastEventId(SomePipe)`, per host module. */
  private readonly classPipes = new Map<string, Map<Type<PipeTransform>, PipeTransform>>();

  constructor(
    private readonly container: NestContainer,
    config: ApplicationConfig,
  ) {
    this.pipesContextCreator = new PipesContextCreator(container, config);
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
      const own = (Reflect.getMetadata(STREAM_ARGS_METADATA, def.controller, def.methodName) as StreamArgMetadata[] | undefined) ?? [];
      for (const arg of own) {
        for (const pipe of arg.pipes) {
          if (typeof pipe !== 'function') continue;
          let byClass = this.classPipes.get(def.moduleKey);
          if (!byClass) this.classPipes.set(def.moduleKey, (byClass = new Map<Type<PipeTransform>, PipeTransform>()));
          if (byClass.has(pipe)) continue;
          const host = this.container.getModules().get(def.moduleKey);
          if (!host) throw new TypeError(`${def.location}: its module is unknown to Nest; cannot resolve pipe ${pipe.name}`);
          const known = host.injectables.get(pipe)?.instance as PipeTransform | undefined;
          const instance = known ?? (await host.getProviderByKey(ModuleRef).instance.create(pipe));
          if (typeof instance?.transform !== 'function') {
            throw new TypeError(`${def.location}: ${pipe.name} given to a parameter decorator is not a pipe (no transform method)`);
          }
          byClass.set(pipe, instance);
        }
      }
    }
  }

  /** Builds a handler's parameters; throws for HTTP parameter decorators, which do not apply. */
  create(def: StreamDefinition): PreparedParams {
    const { instance, callback, moduleKey, methodName } = def;
    const shared = this.pipesContextCreator.create(instance, callback, moduleKey);
    const paramtypes = (Reflect.getMetadata('design:paramtypes', instance, methodName) as unknown[] | undefined) ?? [];
    const own = (Reflect.getMetadata(STREAM_ARGS_METADATA, def.controller, methodName) as StreamArgMetadata[] | undefined) ?? [];
    const args: PreparedArg[] = own.map((a) => {
      const metatype = paramtypes[a.index] as ArgumentMetadata['metatype'];
      const given = a.pipes.map((pipe) => (typeof pipe === 'function' ? this.classPipe(def, pipe) : pipe));
      const pipes = [...shared, ...this.pipesContextCreator.createConcreteContext<never, PipeTransform[]>(given as never)];
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
        case 'input': {
          // The pipes run on each message (SubscriptionInput), not once on the Observable.
          const metadata: ArgumentMetadata = { type: 'body', metatype: a.input?.type, data: undefined };
          const process = pipes.length ? (data: unknown) => this.pipesConsumer.applyPipes(data, metadata as never, pipes) : undefined;
          const envelope = a.input?.envelope === true;
          return {
            index: a.index,
            resolve: (call: StreamCallImpl) => {
              if (!call.input) throw new TypeError(`${def.location}: @StreamInput() needs @Stream(..., { input: true })`);
              return call.input.observable(process, envelope);
            },
            metadata,
            pipes: [],
          };
        }
      }
    });
    // Param decorators made with Nest's createParamDecorator() work too.
    const routeArgs =
      (Reflect.getMetadata(ROUTE_ARGS_METADATA, def.controller, methodName) as
        Record<string, { index: number; factory?: (data: unknown, context: unknown) => unknown; data?: unknown; pipes?: unknown[] }> | undefined) ??
      {};
    for (const [key, meta] of Object.entries(routeArgs)) {
      if (!key.includes(CUSTOM_ROUTE_ARGS_METADATA) || typeof meta.factory !== 'function') {
        throw new TypeError(
          `${def.location}: HTTP parameter decorators (@Query, @Body, @Req, ...) do not apply to @Stream() handlers; use @StreamParams(), @LastEventId(), @StreamContext() or @StreamInput()`,
        );
      }
      const factory = meta.factory;
      args.push({
        index: meta.index,
        resolve: (_call, context) => factory(meta.data, context),
        metadata: { type: 'custom', metatype: paramtypes[meta.index] as never, data: meta.data as never },
        pipes: [...shared, ...this.pipesContextCreator.createConcreteContext<never, PipeTransform[]>((meta.pipes ?? []) as never)],
      });
    }
    return {
      args,
      arity: Math.max(callback.length, paramtypes.length, ...args.map((a) => a.index + 1)),
      plain: args.length === own.length && args.every((a) => a.pipes.length === 0),
    };
  }

  /** The handler's argument values, through their pipes. */
  async resolve(def: StreamDefinition, p: PreparedParams, call: StreamCallImpl, args: [StreamCallImpl]): Promise<unknown[]> {
    const values: unknown[] = new Array(p.arity).fill(undefined);
    if (p.args.length === 0) return values;
    const context = new ExecutionContextHost(args, def.controller as never, def.callback);
    context.setType(LONGLINK_CONTEXT_TYPE);
    for (const arg of p.args) {
      const raw = arg.resolve(call, context);
      values[arg.index] = arg.pipes.length ? await this.pipesConsumer.applyPipes(raw, arg.metadata as never, arg.pipes) : await raw;
    }
    return values;
  }

  /** The argument values of a `plain` handler, synchronously. */
  resolvePlain(p: PreparedParams, call: StreamCallImpl): unknown[] {
    const values: unknown[] = new Array(p.arity).fill(undefined);
    for (const arg of p.args) values[arg.index] = arg.resolve(call, undefined as never);
    return values;
  }

  private classPipe(def: StreamDefinition, pipe: Type<PipeTransform>): PipeTransform {
    const instance = this.classPipes.get(def.moduleKey)?.get(pipe);
    if (!instance) throw new TypeError(`${def.location}: pipe ${pipe.name} was not resolved at bootstrap`);
    return instance;
  }
}
