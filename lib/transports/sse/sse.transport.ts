import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, Logger, Optional, type OnModuleInit } from '@nestjs/common';
import { ApplicationConfig, HttpAdapterHost } from '@nestjs/core';
import { StreamCallImpl } from '../../core/stream-call.js';
import type { StreamDefinition } from '../../core/stream-definition.js';
import { StreamRegistry, joinStreamName } from '../../core/stream-registry.js';
import { StreamRunner } from '../../core/stream-runner.js';
import { StreamErrorCode } from '../../errors/stream-error-code.js';
import { excerpt } from '../../errors/error-bounds.js';
import { MAX_STREAM_NAME_LENGTH } from '../../longlink.constants.js';
import { StreamException, toStreamException, shuttingDownError } from '../../errors/stream-exception.js';
import type { ResolvedLonglinkOptions } from '../../interfaces/longlink-options.interface.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../../longlink.tokens.js';
import { readSseRequest } from './sse.request.js';
import { SseWriter } from './sse.writer.js';

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
 * Serves every `@Stream()` as Server-Sent Events at `GET /<global prefix>/<stream name>`,
 * on `@nestjs/platform-express` or `@nestjs/platform-fastify`. See PROTOCOL.md.
 */
@Injectable()
export class SseTransport implements OnModuleInit {
  private readonly logger = new Logger('Longlink');

  constructor(
    private readonly registry: StreamRegistry,
    private readonly runner: StreamRunner,
    private readonly config: ApplicationConfig,
    @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options: ResolvedLonglinkOptions,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    if (!this.options.sse.enabled) return;
    const adapter = this.adapterHost?.httpAdapter;
    if (!adapter) {
      this.logger.warn('No HTTP adapter: streams are not served over SSE');
      return;
    }
    const platform = adapter.getType();
    if (platform !== 'express' && platform !== 'fastify') {
      throw new Error(`LonglinkModule: the SSE transport supports express and fastify, not "${platform}"`);
    }
    const prefix = this.config.getGlobalPrefix();
    const bases = new Set<string>();
    const router = platform === 'express' ? expressRouterStack(adapter.getInstance()) : undefined;
    const before = router?.length ?? 0;
    for (const def of this.registry.forTransport('sse')) {
      const path = `/${joinStreamName(prefix, def.name)}`;
      adapter.get(path, this.platformHandler(platform, (x) => this.serve(def, x)));
      this.logger.log(`SSE GET ${path}`);
      const base = def.name.split('/').slice(0, -1).join('/');
      if (base) bases.add(base);
    }
    if (router) {
      // Express matches in registration order and the application's routes were registered
      // first, so a `@Get(':id')` beside a stream would hide it. Stream routes go before the
      // first route (after the application's middleware), as exact paths do on Fastify.
      const ours = router.splice(before);
      const firstRoute = router.findIndex((layer) => layer.route !== undefined);
      router.splice(firstRoute === -1 ? router.length : firstRoute, 0, ...ours);
    }
    // Unknown names under a controller that has streams: 404 with the JSON body of PROTOCOL.md.
    for (const base of bases) {
      const wildcard = platform === 'express' ? '*rest' : '*';
      adapter.get(
        `/${joinStreamName(prefix, base)}/${wildcard}`,
        this.platformHandler(platform, (x) => this.notFound(x, prefix), true),
      );
    }
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
    const writer = new SseWriter(res, this.options.sse);
    if (writer.gone) return;
    if (this.runner.isShuttingDown) {
      return writer.end(shuttingDownError());
    }
    let request;
    try {
      request = readSseRequest(req);
    } catch (error) {
      return writer.end(toStreamException(error));
    }
    const call = new StreamCallImpl({
      stream: def.name,
      transport: 'sse',
      params: request.params,
      lastEventId: request.lastEventId,
      headers: req.headers,
      raw: platformRequest,
    });
    this.runner.run(def, call, writer);
    writer.scheduleCommit();
  }

  private notFound({ req, res }: PlatformExchange, prefix: string): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    let decoded = path;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      // keep it encoded
    }
    const name = joinStreamName(decoded).slice(joinStreamName(prefix).length).replace(/^\//, '');
    new SseWriter(res, this.options.sse).end(
      name.length > MAX_STREAM_NAME_LENGTH
        ? new StreamException(StreamErrorCode.BAD_REQUEST, `The stream name is longer than ${MAX_STREAM_NAME_LENGTH} characters`)
        : new StreamException(StreamErrorCode.NOT_FOUND, `Unknown stream ${excerpt(name)}`),
    );
  }
}

/** Express's router layers (`app.router.stack`), if this is an Express app. */
function expressRouterStack(instance: unknown): { route?: unknown }[] | undefined {
  const stack = (instance as { router?: { stack?: unknown } } | undefined)?.router?.stack;
  return Array.isArray(stack) ? (stack as { route?: unknown }[]) : undefined;
}

function acceptsEventStream(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/event-stream');
}
