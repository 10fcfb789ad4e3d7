import type { ClientOptions, RetryOptions, TransportChoice } from './client.types.js';

/** Options after defaults. */
export interface ResolvedClientOptions extends Omit<ClientOptions, 'retry' | 'ws' | 'sse' | 'connectionParams'> {
  url: string;
  transport: TransportChoice;
  wsPath: string;
  retry: Required<RetryOptions>;
  ws: { idleMs: number; pingMs: number; pongTimeoutMs: number; connectTimeoutMs: number };
  sse: { heartbeatMs: number; fetch: boolean; post: string[] };
  autoRetryWsMs: number;
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
    sse: { heartbeatMs: 15_000, fetch: false, post: [], ...options.sse },
    autoRetryWsMs: options.autoRetryWsMs ?? 30_000,
    connectionParams: async () => (typeof params === 'function' ? await (params as () => unknown)() : params),
    refreshable: typeof params === 'function' || !!options.ticket,
  };
}

/** The backoff before reconnect attempt `attempt` (0-based). */
export function backoff({ initialMs, maxMs, factor, jitter }: Required<RetryOptions>, attempt: number): number {
  const ceiling = Math.min(maxMs, initialMs * factor ** attempt);
  return jitter === 'full' ? Math.random() * ceiling : ceiling;
}
