import type { CanActivate, Type } from '@nestjs/common';
import type { TransportName } from '../protocol/transport-name.js';
import type { InputOptions, ResolvedInputOptions, StreamInputOptions } from './input-options.interface.js';
import type { PresenceOptions } from './presence-options.interface.js';
import type { HubOptions } from './hub-options.interface.js';
import type { StreamTicketOptions, StreamTicketStore } from './stream-ticket.interface.js';

export type { PresenceOptions } from './presence-options.interface.js';
export type { HubOptions, RedisClusterConfig } from './hub-options.interface.js';
export type { InputOptions, ResolvedInputOptions, StreamInputOptions } from './input-options.interface.js';

/**
 * What happens when a subscriber reads slower than its stream emits and its queue is full.
 * - `disconnect` (default): the subscription ends with `RESOURCE_EXHAUSTED` (sent if it can
 *   still be written, else the connection is closed);
 * - `drop-oldest`: the oldest queued events are dropped to make room;
 * - `latest`: the queue is cleared and only the newest event is kept (conflation).
 */
export type SlowConsumerPolicy = 'disconnect' | 'drop-oldest' | 'latest';

/** Per-subscriber flow control. */
export interface FlowControlOptions {
  /** Bytes that may wait for a slow subscriber before the policy applies. Default 1 MiB. */
  maxQueueBytes?: number;
  /** Default `disconnect`. */
  policy?: SlowConsumerPolicy;
}

/** Server-Sent Events transport options. */
export interface SseOptions {
  /** Serve streams over SSE. Default `true` (needs an HTTP adapter). */
  enabled?: boolean;
  /** Interval of `:` comment lines that keep proxies from closing idle streams. Default 15000; 0 disables. */
  heartbeatMs?: number;
  /** `retry:` hint sent first: how long browsers wait before reconnecting. Default 2000. */
  retryMs?: number;
  /**
   * Once the pipeline accepted the call (guards, pipes, the handler's first subscription:
   * they may take as long as they need, the status waits for them), how long the response
   * head may wait for the stream's first event or end, so an empty stream still answers 204
   * and an early error a real status. Default 50.
   */
  commitDelayMs?: number;
  /** After a slow-consumer disconnect, how long the error event may take to flush before the socket is destroyed. Default 1000. */
  disconnectGraceMs?: number;
  /**
   * A stream whose socket has not drained for this long while data waits to be sent is cut
   * (the peer stopped reading: a stopped process, a stuck proxy). Default 30000; 0 disables.
   */
  stallTimeoutMs?: number;
  /**
   * TCP keepalive on stream sockets: probes start after this long idle, so a peer whose host
   * vanished is found even on an idle stream. Default 30000; 0 leaves the socket as it is.
   */
  tcpKeepAliveMs?: number;
  /**
   * POST streams: how long the whole request body may take to arrive, from the start of the
   * request; past it the request is answered `408` (code `BAD_REQUEST`) and its connection
   * closed. Default 10000; 0 disables (Node's `requestTimeout` still applies).
   */
  bodyTimeoutMs?: number;
  /**
   * Path of the endpoint that takes client messages of two-way streams over SSE,
   * `POST <global prefix>/<inputPath>/<channel>` (PROTOCOL.md §7.4). Default `'longlink/input'`.
   */
  inputPath?: string;
  /**
   * With the hub on Redis: how long a POST waits for the instance holding its channel to
   * answer before it is refused with `503`. Default 5000.
   */
  inputForwardTimeoutMs?: number;
}

/** WebSocket transport options (needs `@nestjs/platform-ws`). */
export interface WsOptions {
  /** Path of the WebSocket endpoint on the HTTP server. Default `/ws`. */
  path?: string;
  /** Largest frame a client may send; bigger ones close the connection with 1009. Default 65536. */
  maxPayloadBytes?: number;
  /** Active subscriptions per connection; more → `RESOURCE_EXHAUSTED`. Default 100. */
  maxSubscriptions?: number;
  /** Malformed messages tolerated per connection before it is closed with 4400. Default 10. */
  maxInvalidMessages?: number;
  /** Bytes that may wait per connection (all its subscriptions) before the slow-consumer policy applies. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Interval of server ping frames; 0 disables. Default 15000. */
  heartbeatMs?: number;
  /** A peer that has not answered a ping within this time is terminated. Default 10000. */
  heartbeatTimeoutMs?: number;
  /**
   * Origins allowed to connect (exact `scheme://host[:port]`), or `'*'` for any. Default:
   * requests without `Origin` (non-browser clients) and same-origin requests only.
   * Others are refused with HTTP 403 at the upgrade.
   */
  allowedOrigins?: string[] | '*';
  /**
   * A guard run at the upgrade, before the socket exists (context type `'longlink'`, a
   * `StreamCall` with `stream: ''`). Refusal → HTTP 403 (or 401 for `UnauthorizedException`).
   */
  connectionGuard?: Type<CanActivate> | CanActivate;
  /**
   * When the connection guard runs: `'upgrade'` (default), before the socket exists, with the
   * upgrade request's headers and cookies; or `'init'`, once the client's init message
   * (`{"type":"init","payload":...}`) has arrived, with its payload as `call.connectionParams`
   * (browsers cannot set headers on a WebSocket). `'init'` implies `requireInit`. Refusal after
   * init closes the connection with 4401 (`UNAUTHENTICATED`) or 4403 (any other refusal).
   */
  connectionGuardAt?: 'upgrade' | 'init';
  /**
   * Whether every connection must start with an init message: without one within
   * `initTimeoutMs` the connection is closed with 4408. Subscribes sent before it wait for it.
   * Default `false` (init optional; when sent, it must be the first message).
   */
  requireInit?: boolean;
  /** How long a connection may take to send its init message when it is required. Default 10000. */
  initTimeoutMs?: number;
}

/**
 * gRPC transport options (needs `@nestjs/microservices`, `@grpc/grpc-js`,
 * `@grpc/proto-loader`, `@grpc/reflection`, `grpc-health-check`). The server is a
 * `ServerGrpc` of `@nestjs/microservices` run by the module beside the HTTP server.
 */
export interface GrpcOptions {
  /** Address to bind, `host:port`. Port 0 binds a random port (see `GrpcTransport.port`). Default `127.0.0.1:50051`. */
  url?: string;
  /** Extra `.proto` files: services whose methods `@Stream({ grpc })` bindings serve. */
  protoPath?: string | string[];
  /** Packages of those files to serve, e.g. `sample.v1`. */
  package?: string | string[];
  /** `@grpc/proto-loader` options for the extra files (default: camelCase fields, `longs: String`, `enums: String`, `oneofs: true`). */
  loader?: Record<string, unknown>;
  /**
   * Keepalive, as `@nestjs/microservices` gRPC options take it (`keepaliveTimeMs`, ...), merged
   * over the defaults: an HTTP/2 ping after `keepaliveTimeMs` 30000 without activity, the
   * connection dropped when it is not answered within `keepaliveTimeoutMs` 10000 (so a
   * stopped or unplugged client is dropped within ~40 s).
   */
  keepalive?: Record<string, number | boolean>;
  /** Raw `@grpc/grpc-js` server options. */
  channelOptions?: Record<string, unknown>;
  /** Server credentials (`ServerCredentials.createSsl(...)`); insecure by default. */
  credentials?: unknown;
  maxSendMessageLength?: number;
  /** Largest request message accepted; larger ones get `RESOURCE_EXHAUSTED`. Default 262144 (256 KiB). */
  maxReceiveMessageLength?: number;
  maxMetadataSize?: number;
  /** After a slow-consumer disconnect, how long the status may wait behind unread messages before the HTTP/2 stream is reset. Default 1000. */
  disconnectGraceMs?: number;
  /** Serve `grpc.health.v1.Health` (`NOT_SERVING` from the start of a shutdown). Default `true`. */
  healthCheck?: boolean;
  /** Health also `NOT_SERVING` while the hub's Redis connection is lost. Default `false`. */
  healthFollowsHub?: boolean;
  /** Serve server reflection (`grpc.reflection.v1` and `v1alpha`). Default `true`. */
  reflection?: boolean;
}

/**
 * OpenTelemetry metrics (needs `@opentelemetry/api`; see README, "Metrics"). By default they
 * record when an OpenTelemetry SDK has registered a global `MeterProvider` before the module
 * starts, and cost nothing otherwise.
 */
export interface MetricsOptions {
  /** `false` turns metrics off even with an SDK. Default: on when a meter provider is there. */
  enabled?: boolean;
  /** A `MeterProvider` of `@opentelemetry/api` to use instead of the global one. */
  meterProvider?: unknown;
}

/**
 * Deploy hand-over: what happens to live subscriptions when the application shuts down
 * (`app.close()`, or SIGTERM with `enableShutdownHooks()`). New subscriptions are refused at
 * once; every live one ends with `UNAVAILABLE` whose `details` carry `retryAfterMs` (a random
 * delay in `[0, spreadMs)`, so clients come back spread out instead of all at once) and
 * `lastEventId` (the resume point) when it has one. See PROTOCOL.md §2.1.
 */
export interface ShutdownOptions {
  /** Clients' reconnect delays are spread uniformly over this window (ms). Default 5000; 0 = reconnect at once. */
  spreadMs?: number;
  /**
   * How long the last messages (SSE error events, WebSocket close handshakes, gRPC statuses)
   * may take to reach clients before their connections are cut, so shutdown ends within it
   * whatever clients do (ms). Default 3000.
   */
  drainMs?: number;
}

/**
 * Options of `LonglinkModule.forRoot()` / `forRootAsync()`. Validated at startup.
 *
 * @publicApi
 */
export interface LonglinkModuleOptions {
  /** Flow control defaults for every stream (a `@Stream` may override them). */
  flowControl?: FlowControlOptions;
  /** SSE transport. */
  sse?: SseOptions;
  /** WebSocket transport: `true` or options to enable it (off by default). */
  ws?: boolean | WsOptions;
  /** gRPC transport: `true` or options to enable it (off by default). */
  grpc?: boolean | GrpcOptions;
  /** The fan-out hub (`StreamHub`): in memory unless `redis` is given. */
  hub?: HubOptions;
  /** Stream tickets (`StreamTicketService`, `StreamTicketGuard`). */
  tickets?: StreamTicketOptions;
  /** Deploy hand-over at shutdown. */
  shutdown?: ShutdownOptions;
  /**
   * Deepest nesting of stream params (and WebSocket init payloads) on every transport: the
   * params object is level 1, each object or array inside it one more. Deeper input is
   * refused with `BAD_REQUEST` before it is parsed further. Default 64 (as Express's
   * `json()`); at most 512.
   */
  maxParamsDepth?: number;
  /** OpenTelemetry metrics. */
  metrics?: MetricsOptions;
  /** Client messages on two-way streams (`@Stream({ input })`). */
  input?: InputOptions;
}

/** Options of one `@Stream()`. */
export interface StreamOptions {
  /** Transports that serve this stream. Default: all enabled ones. */
  transports?: TransportName[];
  /** Overrides the module's flow control for this stream. */
  flowControl?: FlowControlOptions;
  /**
   * Also serve this stream as a method of your own gRPC service (a server-streaming rpc in
   * one of `grpc.protoPath`): request message → params, each value → response message.
   */
  grpc?: { service: string; method: string };
  /** How this stream is served over SSE. */
  sse?: StreamSseOptions;
  /**
   * The stream also takes client messages (PROTOCOL.md §7): the handler reads them with a
   * `@StreamInput()` parameter. `true` or per-stream limits.
   */
  input?: boolean | StreamInputOptions;
}

/** SSE options of one `@Stream()`. */
export interface StreamSseOptions {
  /**
   * `GET` (default, `EventSource`): params from the query string. `POST` (`fetch` streaming,
   * `@microsoft/fetch-event-source`, LLM-style requests): params from a JSON object body,
   * validated like query params, same SSE framing and resume (`Last-Event-ID`).
   */
  method?: 'GET' | 'POST';
  /** POST: largest accepted body in bytes; larger ones are refused with `413`. Default 65536. */
  maxBodyBytes?: number;
}

/** Options after defaults were applied. */
export interface ResolvedLonglinkOptions {
  flowControl: Required<FlowControlOptions>;
  sse: Required<SseOptions>;
  /** `undefined` when the WebSocket transport is off. */
  ws: ResolvedWsOptions | undefined;
  /** `undefined` when the gRPC transport is off. */
  grpc: ResolvedGrpcOptions | undefined;
  hub: Required<Omit<HubOptions, 'redis' | 'presence'>> & Pick<HubOptions, 'redis'> & { presence: Required<PresenceOptions> };
  tickets: { ttlMs: number; secret?: string | Buffer; store?: StreamTicketStore };
  shutdown: Required<ShutdownOptions>;
  metrics: MetricsOptions;
  maxParamsDepth: number;
  input: ResolvedInputOptions;
}

/** gRPC options after defaults. */
export type ResolvedGrpcOptions = GrpcOptions & {
  url: string;
  healthFollowsHub: boolean;
  protoPath: string[];
  package: string[];
  healthCheck: boolean;
  reflection: boolean;
  disconnectGraceMs: number;
  maxReceiveMessageLength: number;
  keepalive: Record<string, number | boolean>;
};

/** WebSocket options after defaults. */
export type ResolvedWsOptions = Required<Omit<WsOptions, 'connectionGuard'>> & Pick<WsOptions, 'connectionGuard'>;
