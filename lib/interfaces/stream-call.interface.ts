import type { TransportName } from '../protocol/transport-name.js';

/** Request headers (SSE, WS upgrade) or gRPC metadata, keys lower-case. */
export type StreamHeaders = Record<string, string | string[] | undefined>;

/**
 * One subscription to one stream, as the pipeline sees it. It is the first argument of the
 * execution context (`context.getArgByIndex(0)`, also `context.switchToHttp().getRequest()`),
 * so an ordinary guard that reads `request.headers.authorization` works on every transport.
 *
 * Get it in a handler with `@StreamContext()`, or in a guard/interceptor with
 * `getStreamCall(context)`.
 *
 * @typeParam User The type of {@link StreamCall.user} that your guards attach.
 * @publicApi
 */
export interface StreamCall<User = unknown> {
  /** Unique per subscription on this server. */
  readonly id: string;
  /** Full stream name, `<controller path>/<name>`. */
  readonly stream: string;
  /** The transport the subscription arrived on. */
  readonly transport: TransportName;
  /** Raw params as the client sent them (before pipes). */
  readonly params: Record<string, unknown>;
  /** The last event id the client saw (SSE `Last-Event-ID`), if any. */
  readonly lastEventId: string | undefined;
  /** Request headers / gRPC metadata, lower-case keys. */
  readonly headers: StreamHeaders;
  /** Cookies parsed from the `cookie` header. */
  readonly cookies: Readonly<Record<string, string>>;
  /** Aborted when the subscription ends for any reason (client gone, completion, shutdown). */
  readonly signal: AbortSignal;
  /**
   * The transport's raw object: the platform's request (Express `Request` or `FastifyRequest`)
   * on SSE; on WS a `WsUpgradeRequest` (the upgrade request's `headers`, `url` and
   * `remoteAddress`: the `IncomingMessage` is not kept for the connection's life); the
   * `ServerWritableStream` call on gRPC.
   */
  readonly raw: unknown;
  /**
   * The payload of the connection's init message (WebSocket `{"type":"init","payload":...}`,
   * PROTOCOL.md §4.1.1), the same for every subscription of that connection; `undefined` when
   * the client sent none and on transports that have no init message (SSE, gRPC). Untrusted
   * client input: validate it in your guard.
   */
  readonly connectionParams?: unknown;
  /**
   * Free slot for guards to attach the authenticated principal, like `request.user`. Typed
   * through the generic: `getStreamCall<AppUser>(context)`, `@StreamContext() call: StreamCall<AppUser>`.
   */
  user?: User;
  /**
   * The stream ticket the client presented (SSE: the `ticket` query value, which is not a
   * param), for `StreamTicketGuard` / `StreamTicketService.verify()`. Never logged.
   */
  readonly ticket?: string;
}
