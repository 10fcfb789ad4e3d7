import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { notFoundError, type StreamBase } from './sse.not-found.js';
import { Inject, Injectable, Logger, Optional, VERSION_NEUTRAL, VersioningType, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HOST_METADATA, VERSION_METADATA } from '../../internals/nest.js';
import { LONGLINK_LOGGER_CONTEXT } from '../../longlink.constants.js';
import { ApplicationConfig, HttpAdapterHost } from '@nestjs/core';
import { LonglinkConfigError } from '../../errors/longlink-config.error.js';
import { StreamCallImpl } from '../../core/stream-call.js';
import type { StreamDefinition } from '../../core/stream-definition.js';
import { StreamRegistry, joinStreamName } from '../../core/stream-registry.js';
import { StreamRunner } from '../../core/stream-runner.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException, toStreamException } from '../../errors/stream-exception.js';
import type { ResolvedLonglinkOptions } from '../../interfaces/longlink-options.interface.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../../longlink.tokens.js';
import { STREAM_METADATA } from '../../longlink.constants.js';
import { DEFAULT_SSE_MAX_BODY_BYTES } from '../../longlink.defaults.js';
import { SseBodyTooLargeError, readSseBody, readSseRequest, type SseRequest } from './sse.request.js';
import { SseBodyTimeout } from './sse.body-timeout.js';
import { SseHeartbeat } from './sse.heartbeat.js';
import { SseWriter } from './sse.writer.js';
import { SseInputEndpoint } from './sse.input.js';
import { interceptNestStreamRoutes, type NestStreamRoute } from '../../internals/nest.js';

/** The request/response pair of either platform, reduced to what the transport needs. */
interface PlatformExchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** The platform's own request object (Express `Request`, `FastifyRequest`). */
  platformRequest: unknown;
}

interface FastifyRequestLike {
  raw: IncomingMessage;
}
interface FastifyReplyLike {
  raw: ServerResponse;
  hijack(): void;
  getHeaders(): Record<string, string | number | string[] | undefined>;
  callNotFound(): void;
}

/**
 * Serves every `@Stream()` as Server-Sent Events on the route Nest computes for it (a `GET`,
 * or `POST` with `sse.method`), on `@nestjs/platform-express` or `@nestjs/platform-fastify`.
 * See PROTOCOL.md §3 and README "Names and routes".
 */
@Injectable()
export class SseTransport implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  private platform: 'express' | 'fastify' | undefined;
  /** Definitions that got a route. */
  private readonly routed = new Set<StreamDefinition>();
  /** Set once the stream routes are checked (onModuleInit). */
  private registered = false;
  private readonly bases = new Map<string, StreamBase>();
  private readonly heartbeat: SseHeartbeat;
  private readonly bodyTimeout: SseBodyTimeout;

  constructor(
    private readonly registry: StreamRegistry,
    private readonly runner: StreamRunner,
    private readonly config: ApplicationConfig,
    @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options: ResolvedLonglinkOptions,
    private readonly input: SseInputEndpoint,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    this.heartbeat = new SseHeartbeat(options.sse.heartbeatMs);
    this.bodyTimeout = new SseBodyTimeout(options.sse.bodyTimeoutMs);
    // The adapter is set before Nest registers routes: with NestFactory.create() before this
    // provider exists, with @nestjs/testing's createNestApplication() after (init$ replays).
    adapterHost?.init$.subscribe(() => {
      const adapter = adapterHost.httpAdapter;
      if (!adapter) return;
      const platform = adapter.getType();
      if (platform === 'express' || platform === 'fastify') this.platform = platform;
      interceptNestStreamRoutes(adapter, (route) => this.onStreamRoute(route));
    });
  }

  onModuleInit(): void {
    if (!this.options.sse.enabled) return;
    const adapter = this.adapterHost?.httpAdapter;
    if (!adapter) {
      this.logger.warn('No HTTP adapter: streams are not served over SSE');
      return;
    }
    const platform = this.platform;
    if (!platform) {
      throw new Error(`LonglinkModule: the SSE transport supports express and fastify, not "${adapter.getType()}"`);
    }
    const missing = this.registry.forTransport('sse').filter((d) => !this.routed.has(d));
    for (const def of missing) {
      throw new LonglinkConfigError(
        `LonglinkModule: stream "${def.name}" (${def.location}) got no SSE route from Nest` +
          (def.version !== undefined && !this.config.getVersioning()
            ? ' (it declares a version but app.enableVersioning() was not called, so Nest routes only one of its versions)'
            : '') +
          '; serve it on other transports only (@Stream(name, { transports })) or report this as a bug',
      );
    }
    this.registered = true;
    if (this.input.wanted) {
      // Client messages of two-way streams (PROTOCOL.md §7.4).
      const path = this.input.path;
      adapter.post(
        `${path}/:channel`,
        this.platformHandler(platform, (x) => this.input.handle(x.req, x.res, (x.platformRequest as { body?: unknown }).body)),
      );
      this.bodyTimeout.addPrefix(path);
      this.logger.log(`SSE POST ${path}/:channel → client messages`);
    }
    this.bodyTimeout.attach(adapter.getHttpServer() as Server);
    // Unknown names under a controller that has streams: 404 with the JSON body of PROTOCOL.md.
    // Registered here, after the application's routes and before Nest's not-found handler.
    for (const base of this.bases.values()) {
      const wildcard = platform === 'express' ? '*rest' : '*';
      adapter.get(
        `${base.path === '/' ? '' : base.path}/${wildcard}`,
        this.platformHandler(platform, (x) => this.notFound(x, base), true),
      );
    }
  }

  onApplicationShutdown(): void {
    this.bodyTimeout.detach();
  }

  /** A route Nest is registering for a `@Stream()` handler: register the stream pipeline there. */
  private onStreamRoute(route: NestStreamRoute): void {
    if (!this.options.sse.enabled || !this.platform) return;
    const platform = this.platform;
    const segments = route.path.split('/').filter(Boolean);
    const endsWith = (tail: string): boolean => {
      const t = tail.split('/').filter(Boolean);
      return t.length <= segments.length && t.every((s, i) => segments[segments.length - t.length + i] === s);
    };
    const forMethod = this.registry.all().filter((d) => Reflect.getMetadata(STREAM_METADATA, d.callback) === route.metadata);
    // A base-class handler inherited by several controllers: Nest names the handler after its controller.
    const named = forMethod.filter((d) => d.location === route.handlerName);
    const candidates = (named.length ? named : forMethod).filter(
      (d) => (d.options.sse?.method ?? 'GET') === route.method && endsWith(joinStreamName(d.controllerPath, d.localName)),
    );
    if (candidates.length === 0) return;
    for (const def of candidates) {
      if (Reflect.getMetadata(HOST_METADATA, def.controller) !== undefined) {
        throw new LonglinkConfigError(`LonglinkModule: stream "${def.name}" (${def.location}): @Controller({ host }) is not supported for streams`);
      }
    }
    const sse = candidates.filter((d) => this.registry.find(d.name, 'sse') === d);
    const versioning = this.config.getVersioning();
    let chosen: { def: StreamDefinition; filter?: unknown }[];
    if (!versioning) {
      // Nest ignores versions without enableVersioning(): one route, the first definition.
      chosen = sse.slice(0, 1).map((def) => ({ def }));
    } else if (versioning.type === VersioningType.URI) {
      const prefix = versioning.prefix === false ? '' : (versioning.prefix ?? 'v');
      const versioned = sse.filter((d) => d.version !== undefined && segments.includes(`${prefix}${d.version}`));
      chosen = (versioned.length ? versioned : sse.filter((d) => d.version === undefined)).slice(0, 1).map((def) => ({ def }));
    } else {
      // Header, media-type and custom versioning: Nest's own version filter, one per version.
      chosen = sse.map((def) => ({ def, filter: def.version ?? unversionedFilter(def, versioning.defaultVersion) }));
    }
    const adapter = this.adapterHost!.httpAdapter;
    for (const { def, filter } of chosen) {
      let handler = this.platformHandler(platform, (x) => this.serve(def, x));
      if (filter !== undefined) {
        handler = adapter.applyVersionFilter(handler, filter as never, versioning as never) as typeof handler;
      }
      route.register(handler);
      if (route.method === 'POST') this.bodyTimeout.addPath(route.path);
      this.routed.add(def);
      this.logger.log(`SSE ${route.method} ${route.path} → ${def.name}`);
      const localSegments = def.localName.split('/').filter(Boolean).length;
      const basePath = `/${segments.slice(0, segments.length - localSegments).join('/')}`;
      const baseName = joinStreamName(def.version === undefined ? '' : `v${def.version}`, def.controllerPath);
      // GET and POST streams alike: a GET under a controller with only POST streams is not found with the JSON body too.
      if (!this.bases.has(basePath)) this.bases.set(basePath, { path: basePath, name: baseName });
    }
  }

  /** Whether stream routes are served (false when off, and from the start of a shutdown). */
  get serving(): boolean {
    const server = this.adapterHost?.httpAdapter?.getHttpServer() as { listening?: boolean } | undefined;
    return this.registered && !this.runner.isShuttingDown && server?.listening === true;
  }

  /** Adapts `serve` to the platform's handler signature. */
  private platformHandler(
    platform: 'express' | 'fastify',
    serve: (x: PlatformExchange) => void,
    onlyEventStream = false,
  ): (...args: unknown[]) => void {
    if (platform === 'express') {
      return (req, res, next) => {
        if (onlyEventStream && !acceptsEventStream(req as IncomingMessage)) return void (next as () => void)();
        serve({ req: req as IncomingMessage, res: res as ServerResponse, platformRequest: req });
      };
    }
    return (request, reply) => {
      const fRequest = request as FastifyRequestLike;
      const fReply = reply as FastifyReplyLike;
      if (onlyEventStream && !acceptsEventStream(fRequest.raw)) return void fReply.callNotFound();
      fReply.hijack();
      // Headers set through the reply (e.g. by @fastify/cors) would be lost by hijack().
      for (const [name, value] of Object.entries(fReply.getHeaders())) {
        if (value !== undefined) fReply.raw.setHeader(name, value);
      }
      serve({ req: fRequest.raw, res: fReply.raw, platformRequest: request });
    };
  }

  private serve(def: StreamDefinition, { req, res, platformRequest }: PlatformExchange): void {
    if (req.method === 'HEAD') {
      // Headers only: the stream is not opened (and its guards do not run).
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform' });
      return void res.end();
    }
    const writer = new SseWriter(res, this.options.sse, this.heartbeat);
    if (writer.gone) return;
    if (this.runner.isShuttingDown) return this.refuse(writer, def.name, this.runner.refusal());
    let request;
    try {
      request = readSseRequest(req, this.options.maxParamsDepth, def.input !== undefined);
    } catch (error) {
      return this.refuse(writer, def.name, toStreamException(error));
    }
    if (req.method === 'POST') {
      if (Object.keys(request.params).length > 0) {
        return writer.end(
          new StreamException(StreamErrorCode.BAD_REQUEST, 'A POST stream takes its params from the JSON body, not the query string'),
        );
      }
      const limit = def.options.sse?.maxBodyBytes ?? DEFAULT_SSE_MAX_BODY_BYTES;
      readSseBody(req, (platformRequest as { body?: unknown }).body, limit, this.options.maxParamsDepth)
        .then(
          (params) => {
            if (!writer.gone) this.start(def, { ...request, params }, req, platformRequest, writer);
          },
          (error: unknown) => {
            if (error instanceof SseBodyTooLargeError) {
              res.setHeader('connection', 'close');
              return writer.refuse(error, 413);
            }
            writer.end(toStreamException(error));
          },
        )
        .catch((error: unknown) => {
          // A throw while starting or refusing: logged, the request ends, the process survives.
          this.logger.error(`SSE POST stream ${def.name} failed to open: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
          if (!res.headersSent) res.statusCode = 500;
          res.end();
        });
      return;
    }
    this.start(def, request, req, platformRequest, writer);
  }

  private start(def: StreamDefinition, request: SseRequest, req: IncomingMessage, platformRequest: unknown, writer: SseWriter): void {
    const call = new StreamCallImpl({
      stream: def.name,
      transport: 'sse',
      params: request.params,
      lastEventId: request.lastEventId,
      ticket: request.ticket,
      channel: request.channel,
      headers: req.headers,
      raw: platformRequest,
    });
    // The head waits for the pipeline: the writer's commit delay starts at opened().
    this.runner.run(def, call, writer);
  }

  /** Ends a request refused before its stream started (counted in metrics). */
  private refuse(writer: SseWriter, stream: string, error: StreamException): void {
    this.runner.refused('sse', stream, error);
    writer.end(error);
  }

  private notFound({ req, res }: PlatformExchange, base: StreamBase): void {
    // Metrics: no stream attribute for names that are not streams (unbounded cardinality).
    this.refuse(new SseWriter(res, this.options.sse), '', notFoundError(req.url ?? '/', base, this.registry));
  }
}

/**
 * The version filter of a definition without a declared version: `VERSION_NEUTRAL` when it
 * declares neutrality, else the app's default version (as Nest does for a `@Get`).
 */
function unversionedFilter(def: StreamDefinition, defaultVersion: unknown): unknown {
  const declared = (Reflect.getMetadata(VERSION_METADATA, def.callback) ?? Reflect.getMetadata(VERSION_METADATA, def.controller)) as unknown;
  const list = Array.isArray(declared) ? declared : [declared];
  return list.includes(VERSION_NEUTRAL) ? VERSION_NEUTRAL : defaultVersion;
}

function acceptsEventStream(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/event-stream');
}
