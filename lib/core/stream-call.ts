import type { ArgumentsHost } from '@nestjs/common';
import type { StreamCall, StreamHeaders } from '../interfaces/stream-call.interface.js';
import type { TransportName } from '../protocol/transport-name.js';
import type { InputRateLimiter } from './input/input-rate.limiter.js';
import type { SubscriptionInput } from './input/subscription-input.js';
import { LONGLINK_CONTEXT_TYPE } from '../longlink.constants.js';

/** What a transport knows about a new subscription. */
export interface StreamCallInit {
  stream: string;
  transport: TransportName;
  params: Record<string, unknown>;
  lastEventId: string | undefined;
  /** The headers, or how to make them on first read (gRPC metadata is copied only if read). */
  headers: StreamHeaders | (() => StreamHeaders);
  raw: unknown;
  /** The connection's init payload (WebSocket), if any. */
  connectionParams?: unknown;
  /** Id to use (e.g. a WS client's subscription id); a process-unique one otherwise. */
  id?: string;
  /** The stream ticket presented (SSE `?ticket=`). */
  ticket?: string;
  /** The channel key the client gave (two-way streams, PROTOCOL.md §7.1). */
  channel?: string;
  /** The connection's rate limiter for client messages (shared by a WebSocket's subscriptions). */
  inputRate?: InputRateLimiter;
}

function parseCookies(header: string | string[] | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text) return out;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    if (!key || key in out) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      out[key] = decodeURIComponent(value);
    } catch {
      out[key] = value;
    }
  }
  return out;
}

/** Source of process-unique call ids, made only when `call.id` is read. */
let lastCallId = 0;

/**
 * The core's {@link StreamCall}; `abort()` is for the core and transports only.
 *
 * Lean on purpose (one per subscription, most of them idle): the id is a counter made on
 * first read (no random UUID nobody reads) and the `AbortController` exists only once
 * `signal` is read.
 */
export class StreamCallImpl implements StreamCall {
  readonly stream: string;
  readonly transport: TransportName;
  readonly params: Record<string, unknown>;
  readonly lastEventId: string | undefined;
  readonly raw: unknown;
  readonly ticket: string | undefined;
  readonly connectionParams?: unknown;
  user?: unknown;
  /** @internal The channel key (two-way streams). */
  readonly inputChannel: string | undefined;
  /** @internal The connection's input rate limiter, if any. */
  readonly connectionRate: InputRateLimiter | undefined;
  /** @internal The client messages of a two-way stream (set by the runner). */
  input?: SubscriptionInput;
  /** @internal Called once the pipeline has run and the handler's stream is subscribed (metrics); set only when metrics are on. */
  onReady?: () => void;
  private headersOrSource: StreamHeaders | (() => StreamHeaders);
  private givenId: string | undefined;
  private controller: AbortController | undefined;
  private aborted = false;
  private parsedCookies: Record<string, string> | undefined;

  constructor(init: StreamCallInit) {
    this.givenId = init.id;
    this.stream = init.stream;
    this.transport = init.transport;
    this.params = init.params;
    this.lastEventId = init.lastEventId;
    this.headersOrSource = init.headers;
    this.raw = init.raw;
    this.ticket = init.ticket;
    this.inputChannel = init.channel;
    this.connectionRate = init.inputRate;
    if (init.connectionParams !== undefined) this.connectionParams = init.connectionParams;
  }

  get id(): string {
    return (this.givenId ??= `c${(++lastCallId).toString(36)}`);
  }

  get headers(): StreamHeaders {
    const h = this.headersOrSource;
    return typeof h === 'function' ? (this.headersOrSource = h()) : h;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  get cookies(): Readonly<Record<string, string>> {
    return (this.parsedCookies ??= parseCookies(this.headers.cookie));
  }

  /** Ends the call: aborts `signal`. Idempotent. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.controller?.abort();
  }
}

/**
 * Brand of an execution context known to belong to a stream call, as {@link isStreamContext}
 * narrows it: {@link getStreamCall} on it returns a `StreamCall`, never `undefined`.
 *
 * @publicApi
 */
export interface StreamArgumentsHost extends ArgumentsHost {
  /** Type-only brand; never set. */
  readonly __longlinkStreamContext?: true;
}

/**
 * Whether an execution context belongs to a stream call (as opposed to a plain HTTP
 * request, an RPC or a WS message): `context.getType() === 'longlink'`. Narrows the context,
 * so that `getStreamCall(context)` after it is not `undefined`.
 *
 * @publicApi
 */
export function isStreamContext<Host extends ArgumentsHost>(
  context: Host,
): context is Host & StreamArgumentsHost & { readonly __longlinkStreamContext: true } {
  return context.getType<string>() === LONGLINK_CONTEXT_TYPE;
}

/**
 * The {@link StreamCall} of an execution context, or `undefined` if the context is not a
 * stream call. For guards, interceptors and filters. `User` types `call.user`.
 *
 * @publicApi
 */
export function getStreamCall<User = unknown>(context: StreamArgumentsHost & { readonly __longlinkStreamContext: true }): StreamCall<User>;
export function getStreamCall<User = unknown>(context: ArgumentsHost): StreamCall<User> | undefined;
export function getStreamCall<User = unknown>(context: ArgumentsHost): StreamCall<User> | undefined {
  return isStreamContext(context) ? context.getArgByIndex<StreamCall<User>>(0) : undefined;
}
