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
 * The backoff before reconnect attempt `attempt` (0-based). A server's hint (`retry:`,
 * `retryAfterMs`, gRPC trailer), clamped into `[initialMs, maxMs]`, may raise the ceiling, never
 * lower it; full jitter then draws below the ceiling, so clients given one hint do not come back
 * at one instant.
 */
export function backoff({ initialMs, maxMs, factor, jitter }: Required<RetryOptions>, attempt: number, hintMs?: unknown): number {
  let ceiling = Math.min(maxMs, initialMs * factor ** attempt);
  if (typeof hintMs === 'number' && hintMs > ceiling) ceiling = Math.min(maxMs, hintMs);
  return jitter === 'full' ? Math.random() * ceiling : ceiling;
}

/** The longest delay `setTimeout` takes (longer ones fire at once, with a TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `setTimeout` with its delay clamped into `[0, 2^31 - 1]` (NaN: 0). */
export const later = (fn: () => void, ms: number): ReturnType<typeof setTimeout> => setTimeout(fn, Math.min(MAX_TIMER_MS, ms > 0 ? ms : 0));
