import type { TransportName } from '../protocol/transport-name.js';

/** Which transport a client uses; `auto` tries WebSocket, falls back to SSE. */
export type TransportChoice = 'auto' | 'ws' | 'sse' | 'grpc';

/** The transport in use now. */
export type { TransportName };

/** The client's connection state (`client.state$`). */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What `client.events()` emits. */
export type ClientEvent<T> = { type: 'next'; id?: string; data: T } | { type: 'reset'; id?: string; reason: string };

/** Backoff between reconnect attempts: `min(maxMs, initialMs * factor^attempt)`, with full jitter. */
export interface RetryOptions {
  /** Default 250. */
  initialMs?: number;
  /** Default 30000. */
  maxMs?: number;
  /** Default 2. */
  factor?: number;
  /** `'full'` (default): a random delay between 0 and the backoff; `'none'`: the backoff itself. */
  jitter?: 'full' | 'none';
  /** Reconnect attempts in a row without success before a subscription ends with its error. Default `Infinity`. */
  maxAttempts?: number;
}

/** Minimal shapes of the runtime's constructors (browsers' natives, or `ws` / `eventsource` in Node). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- `ws` and `eventsource` classes differ from the DOM types in details
export type WebSocketConstructor = new (url: string, ...rest: any[]) => any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above: `eventsource`'s class is not the DOM's
export type EventSourceConstructor = new (url: string, ...rest: any[]) => any;

/**
 * Options of {@link createClient}.
 *
 * @publicApi
 */
export interface ClientOptions {
  /** Base URL of the server's streams, global prefix included (`https://api.example/api`). Default: the page's origin. */
  url?: string;
  /** Default `'auto'`. `'grpc'` works in Node only. */
  transport?: TransportChoice;
  /** Path of the WebSocket endpoint (no global prefix). Default `/ws`. */
  wsPath?: string;
  /** gRPC address, `host:port` (for `transport: 'grpc'`). */
  grpcUrl?: string;
  /**
   * gRPC channel credentials, e.g. `credentials.createSsl(ca)` of `@grpc/grpc-js` for a server
   * with TLS (`grpc.credentials` of the module). Default: insecure (plaintext).
   */
  grpcCredentials?: unknown;
  /**
   * Headers for every request (SSE through `fetch`, the WebSocket upgrade where the runtime
   * allows it (Node), gRPC metadata). Browsers cannot set WebSocket headers: use `connectionParams`.
   */
  headers?: Record<string, string>;
  /**
   * SSE to another origin: send its cookies (`EventSource` `withCredentials`, `fetch`
   * `credentials: 'include'`); the server needs CORS with `credentials: true` and your page's
   * origin. Default `false` (cookies go to the page's own origin only). WebSocket upgrades always carry cookies.
   */
  withCredentials?: boolean;
  /**
   * Sent in the WebSocket init message on every (re)connect: a value, or a function (sync or
   * async) called each time (the type is `unknown` because it takes either).
   */
  connectionParams?: unknown;
  /** SSE: called on every (re)connect of a subscription; its result is sent as `ticket=` (an empty string: no ticket). */
  ticket?: (stream: string, params: Record<string, unknown>) => string | Promise<string>;
  /** Reconnect backoff. */
  retry?: RetryOptions;
  /**
   * Called before each reconnect of a subscription, with the error it lost its connection to
   * (a protocol violation included) and the delay drawn. The subscription itself errors only
   * when it ends (a terminal error, or `retry.maxAttempts`).
   */
  onRetry?: (error: import('./stream-error.js').StreamError, stream: string, delayMs: number) => void;
  /**
   * The largest message accepted from the server, in bytes (characters where only decoded text is
   * seen): an SSE line or event (fetch path), a WebSocket message (`ws`'s `maxPayload` in Node), a
   * gRPC message. Past it: a protocol violation, the connection is dropped. Default 1 MiB.
   */
  maxMessageBytes?: number;
  /** Called when the server could not resume a subscription (events were missed). */
  onReset?: (stream: string, reason: string, params: Record<string, unknown>) => void;
  /** WebSocket tuning. */
  ws?: {
    /** Close the connection this long after its last subscription ends. Default 1000. */
    idleMs?: number;
    /** Send a `ping` message this often. Default 15000; 0 disables. */
    pingMs?: number;
    /** A `ping` unanswered this long means the connection is dead: reconnect. Default 5000. */
    pongTimeoutMs?: number;
    /** A socket not open (and its init not sent) within this time counts as failed. Default 5000. */
    connectTimeoutMs?: number;
  };
  /** SSE tuning. */
  sse?: {
    /** The server's `sse.heartbeatMs`: nothing received for twice this long → reconnect (fetch path). Default 15000. */
    heartbeatMs?: number;
    /**
     * Use `fetch` streaming even where `EventSource` exists: it sees heartbeats (the watchdog
     * above) and refusals' status, which `EventSource` hides. Default `false` (`true` when `headers` are set).
     */
    fetch?: boolean;
    /**
     * Names of POST streams (`@Stream(name, { sse: { method: 'POST' } })`): requested with
     * `fetch` and `POST`, the params as the JSON body (PROTOCOL.md §3.9). Default none.
     */
    post?: string[];
    /** Where a channel's messages are POSTed: `url/<inputPath>/<channel>` (the server's `sse.inputPath`, PROTOCOL.md §7.4). Default `'longlink/input'`. */
    inputPath?: string;
  };
  /** `transport: 'auto'`: how often WebSocket is tried again in the background after a fallback to SSE. Default 30000. */
  autoRetryWsMs?: number;
  /** The WebSocket constructor (Node: `ws`'s). Default: the global one, else `ws` loaded on demand. */
  WebSocket?: WebSocketConstructor;
  /** The EventSource constructor (Node: `eventsource`'s). Default: the global one; without it (or with `headers`), `fetch` streaming. */
  EventSource?: EventSourceConstructor;
  /** The fetch function. Default: the global one. */
  fetch?: typeof fetch;
}

/** A subscription as the transports see it. */
export interface TransportRequest {
  stream: string;
  params: Record<string, unknown>;
  lastEventId: string | undefined;
  /** A channel's key (PROTOCOL.md §7.1): the subscription takes client messages. */
  channel?: string;
}

/** How a transport reports one subscription's life to the client. */
export interface TransportSink {
  /** The subscription is established (WS: socket open, SSE: 200, gRPC: headers). */
  open(): void;
  /** The server holds this subscription (SSE: 200; WS: `subscribed`; gRPC: response headers). */
  accepted(): void;
  next(id: string | undefined, data: unknown): void;
  reset(id: string | undefined, reason: string): void;
  /**
   * The subscription ended: completed (no error), or failed. `retryAfterMs` is the server's
   * hint (SSE `retry:`, gRPC trailer); `neverOpened` says the connection itself never opened.
   */
  end(error?: import('./stream-error.js').StreamError, retryAfterMs?: number, neverOpened?: boolean): void;
  /** The answer to client message `id` (`undefined`: to the half-close): an ack, or the refusal. */
  answer?(id: string | undefined, error?: import('./stream-error.js').StreamError): void;
}

/** What `subscribe` returns: the cancel function, and for a channel how to send its messages. */
export type TransportHandle = (() => void) & {
  /** Sends client message `id`, its data as JSON text. */
  send?(id: string, json: string): void;
  /** Sends the half-close. */
  end?(): void;
};

/** One client-side transport. */
export interface ClientTransport {
  readonly name: TransportName;
  /** Starts a subscription; the returned function cancels it (unsubscribe / abort). */
  subscribe(request: TransportRequest, sink: TransportSink): TransportHandle;
  /** Drops the underlying connections as if the network failed (their subscriptions end with `UNAVAILABLE`). */
  drop(): void;
  /** Closes everything; no sink is called any more. */
  close(): void;
}
