import type { ClientOptions, RetryOptions, TransportChoice } from './client.types.js';

/** Options after defaults. */
export interface ResolvedClientOptions extends Omit<ClientOptions, 'retry' | 'ws' | 'sse' | 'connectionParams' | 'maxMessageBytes'> {
  url: string;
  transport: TransportChoice;
  wsPath: string;
  retry: Required<RetryOptions>;
  ws: { idleMs: number; pingMs: number; pongTimeoutMs: number; connectTimeoutMs: number };
  sse: { heartbeatMs: number; fetch: boolean; post: string[]; inputPath: string };
  autoRetryWsMs: number;
  maxMessageBytes: number;
  /** Resolves the init payload for one (re)connect. */
  connectionParams(): Promise<unknown>;
  /** `connectionParams` is a function: an `UNAUTHENTICATED` refusal may be retried once with fresh params. */
  refreshable: boolean;
}

export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const location = (globalThis as { location?: { origin?: string } }).location;
  const url = options.url ?? location?.origin;
  if (!url) throw new TypeError('createClient: `url` is required outside a browser page');
  const params = options.connectionParams;
  return {
    ...options,
    url: url.replace(/\/+$/, ''),
    transport: options.transport ?? 'auto',
    wsPath: options.wsPath ?? '/ws',
    retry: { initialMs: 250, maxMs: 30_000, factor: 2, jitter: 'full', maxAttempts: Infinity, ...options.retry },
    ws: { idleMs: 1000, pingMs: 15_000, pongTimeoutMs: 5000, connectTimeoutMs: 5000, ...options.ws },
    sse: { heartbeatMs: 15_000, fetch: false, post: [], inputPath: 'longlink/input', ...options.sse },
    autoRetryWsMs: options.autoRetryWsMs ?? 30_000,
    maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
    connectionParams: async () => (typeof params === 'function' ? await (params as () => unknown)() : params),
    refreshable: typeof params === 'function' || !!options.ticket,
  };
}

/**
 * Where a server's reconnect hint came from decides how it is used (README "Client"):
 * - a ceiling: a reconnection time the server gives every client alike (SSE `retry:`, the gRPC
 *   trailer on its own). Clamped into `[initialMs, maxMs]`, it may raise the backoff's ceiling,
 *   never lower it, and full jitter draws below it, so clients told one value do not come back
 *   at one instant.
 * - a delay: `details.retryAfterMs` of an error, which a server already draws per client over its
 *   spread (deploy hand-over, PROTOCOL.md §2.1). The client waits that delay (at most `maxMs`)
 *   plus up to a tenth more, so a full jitter below it would bunch the spread's clients towards 0.
 * Either way the delay is never below the backoff's own draw: no hint makes a client reconnect
 * faster than its backoff, none holds it past `maxMs`.
 */
/** The extra jitter above a delay hint, as a fraction of it. */
export const DELAY_HINT_JITTER = 0.1;

/**
 * The delay before reconnect attempt `attempt` (0-based): full jitter below
 * `min(maxMs, initialMs * factor^attempt)` (`jitter: 'none'`: that ceiling), then the server's
 * hint applied as a delay (`delay`: `details.retryAfterMs`) or as a ceiling (else). Anything
 * but a number is no hint.
 */
export function backoff({ initialMs, maxMs, factor, jitter }: Required<RetryOptions>, attempt: number, hintMs?: unknown, delay = false): number {
  let ceiling = Math.min(maxMs, initialMs * factor ** attempt);
  const hinted = typeof hintMs === 'number' && hintMs > 0;
  if (hinted && !delay && hintMs > ceiling) ceiling = Math.min(maxMs, hintMs);
  const draw = jitter === 'full' ? Math.random() * ceiling : ceiling;
  if (!hinted || !delay) return draw;
  const wait = Math.min(maxMs, hintMs * (1 + Math.random() * DELAY_HINT_JITTER));
  return Math.max(draw, wait);
}

/** The longest delay `setTimeout` takes (longer ones fire at once, with a TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `setTimeout` with its delay clamped into `[0, 2^31 - 1]` (NaN: 0). */
export const later = (fn: () => void, ms: number): ReturnType<typeof setTimeout> => setTimeout(fn, Math.min(MAX_TIMER_MS, ms > 0 ? ms : 0));
