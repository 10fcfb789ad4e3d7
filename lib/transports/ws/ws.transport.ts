import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Inject, Injectable, Logger, Optional, type BeforeApplicationShutdown, type CanActivate, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { ExecutionContextHost } from '../../internals/nest.js';
import { isObservable, lastValueFrom } from 'rxjs';
import type { WebSocketServer } from 'ws';
import { StreamCallImpl } from '../../core/stream-call.js';
import { StreamRegistry } from '../../core/stream-registry.js';
import { StreamRunner } from '../../core/stream-runner.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException, isExpectedError, shuttingDownError, toStreamException } from '../../errors/stream-exception.js';
import type { ResolvedLonglinkOptions, ResolvedWsOptions } from '../../interfaces/longlink-options.interface.js';
import { LONGLINK_CONTEXT_TYPE, LONGLINK_LOGGER_CONTEXT } from '../../longlink.constants.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../../longlink.tokens.js';
import { takeOverUpgrade, wsServerOptions } from '../../internals/ws.js';
import { WS_CLOSE_GRACE_MS, WsConnection, type WsConnectionDeps, type WsUpgradeRequest } from './ws.connection.js';
import { HTTP_STATUS_BY_CODE } from '../../protocol/http.protocol.js';
import { WsCloseCode } from '../../protocol/ws.protocol.js';
import { loadWs } from './ws.loader.js';

/**
 * Serves every `@Stream()` over one WebSocket endpoint on the application's HTTP server
 * (`ws.path`, default `/ws`), multiplexing subscriptions per connection. Uses the `ws`
 * library of `@nestjs/platform-ws`, and coexists with the application's own gateways: upgrade
 * requests for other paths go to whoever else listens for them.
 */
@Injectable()
export class WsTransport implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  private readonly connections = new Set<WsConnection>();
  private wss: WebSocketServer | undefined;
  private server: Server | undefined;
  /** Gives the HTTP server's `upgrade` listeners back. */
  private restoreUpgrade: (() => void) | undefined;
  private guard: CanActivate | undefined;
  private stopped = false;
  /** What every connection shares (one object for all). */
  private deps: WsConnectionDeps | undefined;
  /** The one heartbeat timer of all connections. */
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: StreamRegistry,
    private readonly runner: StreamRunner,
    private readonly moduleRef: ModuleRef,
    @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options: ResolvedLonglinkOptions,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {}

  private get ws(): ResolvedWsOptions {
    return this.options.ws!;
  }

  /** Whether new connections are refused (this transport or the whole app is shutting down). */
  private get closing(): boolean {
    return this.stopped || this.runner.isShuttingDown;
  }

  /** Whether the endpoint accepts connections (false when off, and from the start of a shutdown). */
  get serving(): boolean {
    return this.wss !== undefined && !this.closing && this.server?.listening === true;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.ws) return;
    const server = this.adapterHost?.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server) throw new Error('LonglinkModule: the WebSocket transport needs an HTTP server (Express or Fastify)');
    const { WebSocketServer } = loadWs();
    this.guard = await this.resolveGuard();
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.ws.maxPayloadBytes,
      // Events go out as pre-built frames written straight to the socket (ws.sender.ts):
      // never negotiate compression, which would also make ws' own sends asynchronous.
      perMessageDeflate: false,
      clientTracking: false,
      // A close handshake the peer never answers ends after this (not 30 s): the ws door.
      ...wsServerOptions(WS_CLOSE_GRACE_MS),
    });
    this.wss.on('error', (error) => this.logger.error(`WebSocket server error: ${error.message}`));
    // Upgrades for our path are ours alone; others go to the listeners already there (the
    // app's own gateways), which would otherwise destroy sockets for paths they don't know.
    this.server = server;
    this.restoreUpgrade = takeOverUpgrade(server, (others, request, socket, head) => {
      if (pathOf(request) === this.ws.path) {
        this.upgrade(request, socket as Socket, head).catch((error: unknown) => {
          // Guards' failures are refusals already: this is a safety net, the process survives.
          this.logger.error(`WebSocket upgrade failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
          socket.destroy();
        });
        return;
      }
      if (others.length === 0) return void socket.destroy();
      for (const listener of others) listener.call(server, request, socket, head);
    });
    this.deps = {
      registry: this.registry,
      runner: this.runner,
      options: this.ws,
      maxParamsDepth: this.options.maxParamsDepth,
      logger: this.logger,
      onClosed: (c) => {
        if (this.connections.delete(c)) this.runner.connection('ws', -1);
      },
      checkInit: (req, payload) =>
        this.guard && this.ws.connectionGuardAt === 'init' ? this.runConnectionGuard(req, payload) : Promise.resolve(undefined),
    };
    const { heartbeatMs, heartbeatTimeoutMs } = this.ws;
    if (heartbeatMs > 0) {
      // One timer for every connection; it beats often enough that a ping leaves within a
      // quarter of the shorter period of its due time, and a silent peer is cut as late.
      this.heartbeat = setInterval(
        () => {
          const now = Date.now();
          for (const connection of this.connections) connection.heartbeat(now);
        },
        Math.max(5, Math.floor(Math.min(heartbeatMs, heartbeatTimeoutMs) / 4)),
      );
      this.heartbeat.unref();
    }
    this.logger.log(`WebSocket endpoint at ${this.ws.path}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.wss) return;
    this.stopped = true;
    // Every subscription gets its hand-over error (one retry delay per connection), then each
    // connection closes with 1001; peers that do not answer are cut within shutdown.drainMs.
    this.runner.closeAll();
    clearInterval(this.heartbeat);
    const error = shuttingDownError();
    const closing = [...this.connections].map((c) => {
      c.shutdown(error, WsCloseCode.GOING_AWAY, error.message);
      return c.closed;
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closing), new Promise<void>((resolve) => (timer = setTimeout(resolve, this.runner.drainRemainingMs())))]);
    clearTimeout(timer);
    this.restoreUpgrade?.();
    this.restoreUpgrade = undefined;
    this.wss.close();
    this.wss = undefined;
  }

  private async upgrade(request: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    // Only this is kept of the request once upgraded (guards read headers and cookies).
    const info: WsUpgradeRequest = {
      headers: request.headers,
      url: request.url ?? '/',
      remoteAddress: socket.remoteAddress,
    };
    if (!this.originAllowed(request)) {
      return reject(socket, new StreamException(StreamErrorCode.PERMISSION_DENIED, 'Origin not allowed'));
    }
    if (this.closing) return reject(socket, this.runner.refusal());
    if (this.guard && this.ws.connectionGuardAt === 'upgrade') {
      const refusal = await this.runConnectionGuard(info, undefined);
      if (refusal) return reject(socket, refusal);
    }
    if (socket.destroyed) return;
    if (this.closing || !this.wss || !this.deps) return reject(socket, this.runner.refusal()); // shutdown began during the guard
    const deps = this.deps;
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      this.connections.add(new WsConnection(ws, socket, info, deps));
      this.runner.connection('ws', 1);
    });
  }

  /**
   * Runs `ws.connectionGuard` for a connection (a `StreamCall` with `stream: ''`, the upgrade
   * request's headers and cookies, and the init payload as `connectionParams` when it runs
   * after init). Resolves with the refusal, or `undefined` when the guard allows.
   */
  private async runConnectionGuard(
    request: WsUpgradeRequest,
    connectionParams: Record<string, unknown> | undefined,
  ): Promise<StreamException | undefined> {
    const call = new StreamCallImpl({
      stream: '',
      transport: 'ws',
      params: {},
      lastEventId: undefined,
      headers: request.headers,
      raw: request,
      connectionParams,
    });
    try {
      // The handler guards see (getHandler(), for reflection): a reference, never called from there.
      // eslint-disable-next-line @typescript-eslint/unbound-method -- see above
      const context = new ExecutionContextHost([call], WsTransport, this.upgrade);
      context.setType(LONGLINK_CONTEXT_TYPE);
      let result: unknown = await this.guard!.canActivate(context);
      if (isObservable(result)) result = await lastValueFrom(result);
      if (result !== true) return new StreamException(StreamErrorCode.PERMISSION_DENIED, 'Forbidden resource');
      return undefined;
    } catch (error) {
      if (!isExpectedError(error)) {
        this.logger.error(`WebSocket connection guard failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
      return toStreamException(error);
    } finally {
      call.abort();
    }
  }

  private originAllowed(request: IncomingMessage): boolean {
    const { allowedOrigins } = this.ws;
    if (allowedOrigins === '*') return true;
    const origin = request.headers.origin;
    if (origin === undefined) return true; // not a browser: CSWSH needs a browser
    if (allowedOrigins.includes(origin)) return true;
    try {
      // Same origin: compare normalised hosts (case, default ports).
      const from = new URL(origin);
      return from.host === new URL(`${from.protocol}//${request.headers.host ?? ''}`).host;
    } catch {
      return false;
    }
  }

  private async resolveGuard(): Promise<CanActivate | undefined> {
    const guard = this.ws.connectionGuard;
    if (!guard || typeof guard !== 'function') return guard;
    try {
      return this.moduleRef.get(guard, { strict: false });
    } catch {
      return this.moduleRef.create(guard);
    }
  }
}

function pathOf(request: IncomingMessage): string {
  try {
    return new URL(request.url ?? '/', 'http://localhost').pathname;
  } catch {
    return '';
  }
}

/** Answers an upgrade request with a plain HTTP error: no socket is created. */
function reject(socket: Socket, error: StreamException): void {
  if (socket.destroyed) return;
  const status = HTTP_STATUS_BY_CODE[error.code];
  const body = JSON.stringify(error.toJSON());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
