import { Inject, Injectable, Logger, type Type } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { VERSION_NEUTRAL } from '@nestjs/common';
import { PATH_METADATA, VERSION_METADATA } from '../internals/nest.js';
import type { StreamMetadata } from '../decorators/stream.decorator.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import type { TransportName } from '../protocol/transport-name.js';
import { LONGLINK_LOGGER_CONTEXT, MAX_STREAM_NAME_LENGTH, STREAM_METADATA } from '../longlink.constants.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../longlink.tokens.js';
import { LonglinkConfigError } from '../errors/longlink-config.error.js';
import { resolveFlowControl } from './longlink-options.js';
import { resolveStreamInput } from './input/stream-input.options.js';
import type { StreamDefinition } from './stream-definition.js';

const SEGMENT = /^[A-Za-z0-9._~-]+$/;
const TRANSPORTS: readonly TransportName[] = ['sse', 'ws', 'grpc'];

function servedOn(def: StreamDefinition, transport: TransportName): boolean {
  return !def.options.transports || def.options.transports.includes(transport);
}

/** Joins path pieces into a stream name: no leading/trailing/double slashes. */
export function joinStreamName(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((s) => s.length > 0)
    .join('/');
}

/**
 * The versions a handler declares (method `@Version()` first, else the controller's
 * `version`), as name prefixes: `[undefined]` when none (or `VERSION_NEUTRAL`) is declared.
 * The app's `defaultVersion` is not part of names: it changes routes, not names.
 */
function streamVersions(controller: object, callback: object): (string | undefined)[] {
  const declared = (Reflect.getMetadata(VERSION_METADATA, callback) ?? Reflect.getMetadata(VERSION_METADATA, controller)) as
    string | symbol | (string | symbol)[] | undefined;
  const list = declared === undefined ? [] : Array.isArray(declared) ? declared : [declared];
  const named = [...new Set(list.filter((v): v is string => v !== VERSION_NEUTRAL && typeof v === 'string'))];
  // A neutral stream (or one without a version) keeps the plain name.
  if (named.length === 0 || list.includes(VERSION_NEUTRAL)) return [undefined, ...named];
  return named;
}

/**
 * All `@Stream()` handlers of the application, by full name. Filled once at startup from
 * Nest's discovery service; transports look streams up here.
 */
@Injectable()
export class StreamRegistry {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  private streams: Map<string, StreamDefinition> | undefined;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options: ResolvedLonglinkOptions,
  ) {}

  /** The stream of that full name, if it exists. */
  get(name: string): StreamDefinition | undefined {
    return this.load().get(name);
  }

  /** Every stream. */
  all(): StreamDefinition[] {
    return [...this.load().values()];
  }

  /** Streams that a transport serves. */
  forTransport(transport: TransportName): StreamDefinition[] {
    return this.all().filter((d) => servedOn(d, transport));
  }

  /** The stream of that name if `transport` serves it. */
  find(name: string, transport: TransportName): StreamDefinition | undefined {
    const def = this.get(name);
    return def && servedOn(def, transport) ? def : undefined;
  }

  private load(): Map<string, StreamDefinition> {
    if (this.streams) return this.streams;
    const streams = new Map<string, StreamDefinition>();
    for (const wrapper of this.discovery.getControllers()) {
      // Nest types a controller's instance `any` and its class `Function`.
      const instance = wrapper.instance as object | undefined;
      const metatype = wrapper.metatype as Type | null;
      if (!instance || !metatype) continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const callback = (prototype as Record<string, unknown>)[methodName] as (...args: unknown[]) => unknown;
        const meta = Reflect.getMetadata(STREAM_METADATA, callback) as StreamMetadata | undefined;
        if (!meta) continue;
        const location = `${metatype.name}.${methodName}`;
        if (!wrapper.isDependencyTreeStatic()) {
          throw new LonglinkConfigError(`LonglinkModule: ${location} is a @Stream() on a request-scoped controller, which is not supported`);
        }
        const unknown = (meta.options.transports ?? []).filter((t) => !TRANSPORTS.includes(t));
        if (unknown.length > 0) {
          throw new LonglinkConfigError(
            `LonglinkModule: ${location} lists unknown transport(s) ${unknown.join(', ')} (known: ${TRANSPORTS.join(', ')})`,
          );
        }
        const sse = meta.options.sse;
        if (sse !== undefined) {
          if (sse.method !== undefined && sse.method !== 'GET' && sse.method !== 'POST') {
            throw new LonglinkConfigError(`LonglinkModule: ${location}: sse.method must be 'GET' or 'POST', got ${JSON.stringify(sse.method)}`);
          }
          if (sse.maxBodyBytes !== undefined && (!Number.isSafeInteger(sse.maxBodyBytes) || sse.maxBodyBytes < 2)) {
            throw new LonglinkConfigError(`LonglinkModule: ${location}: sse.maxBodyBytes must be an integer >= 2`);
          }
        }
        const input = resolveStreamInput(location, meta.options.input, metatype, methodName, this.options.input);
        const local = meta.name ?? methodName;
        const versions = streamVersions(metatype, callback);
        let contractBound = meta.contract === undefined;
        for (const controllerPath of this.controllerPaths(metatype)) {
          for (const version of versions) {
            const name = joinStreamName(version === undefined ? '' : `v${version}`, controllerPath, local);
            this.validateName(name, location);
            if (name === meta.contract) contractBound = true;
            const existing = streams.get(name);
            if (existing) {
              throw new LonglinkConfigError(
                `LonglinkModule: duplicate stream name "${name}": ${existing.location} and ${location}` +
                  ' (give one a version, another controller path or another @Stream() name)',
              );
            }
            streams.set(name, {
              name,
              localName: local,
              controllerPath,
              version,
              location,
              instance,
              controller: metatype,
              callback,
              methodName,
              moduleKey: wrapper.host?.token as string,
              options: meta.options,
              input,
              flowControl: resolveFlowControl(`@Stream(${JSON.stringify(name)}).flowControl`, meta.options.flowControl, this.options.flowControl),
            });
          }
        }
        if (!contractBound) {
          const expected = meta.contract!.slice(0, Math.max(0, meta.contract!.lastIndexOf('/')));
          throw new LonglinkConfigError(
            `LonglinkModule: ${location} is bound to the contract "${meta.contract}", but its full name is ` +
              `${this.controllerPaths(metatype)
                .map((p) => JSON.stringify(joinStreamName(p, local)))
                .join(' / ')}: ` +
              `bind it in @Controller(${JSON.stringify(expected)}) (with the version, if any, as the contract name's first segment)`,
          );
        }
      }
    }
    this.logger.log(`${streams.size} stream(s): ${[...streams.keys()].join(', ') || '(none)'}`);
    this.streams = streams;
    return streams;
  }

  private controllerPaths(metatype: object): string[] {
    const path = Reflect.getMetadata(PATH_METADATA, metatype) as string | string[] | undefined;
    if (Array.isArray(path)) return path.length ? path : [''];
    return [path ?? ''];
  }

  private validateName(name: string, location: string): void {
    if (name.length > MAX_STREAM_NAME_LENGTH) {
      throw new LonglinkConfigError(`LonglinkModule: stream name at ${location} is longer than ${MAX_STREAM_NAME_LENGTH} characters`);
    }
    if (!name || !name.split('/').every((s) => SEGMENT.test(s))) {
      throw new LonglinkConfigError(`LonglinkModule: invalid stream name "${name}" at ${location}: use letters, digits and . _ ~ - separated by /`);
    }
  }
}
