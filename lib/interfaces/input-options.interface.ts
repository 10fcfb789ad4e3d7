/** Module-wide options of client messages on two-way streams (PROTOCOL.md §7). */
export interface InputOptions {
  /** Largest client message: bytes of UTF-8 JSON of its `data`. Default 65536. */
  maxMessageBytes?: number;
  /** Messages a subscription queues that its handler has not taken yet. Default 64. */
  maxQueue?: number;
  /** How long the ids of acked messages are remembered per channel. Default 600000 (10 minutes). */
  dedupWindowMs?: number;
  /** Ids remembered per channel (oldest forgotten first). Default 10000. */
  dedupMaxIds?: number;
  /** In memory: ids remembered across every channel (least recently used channels forgotten first). Default 200000. */
  dedupMaxTotalIds?: number;
  /**
   * Per-connection rate limit (a token bucket): `perSecond` messages refill per second, up to
   * `burst` (default `perSecond`). Excess messages are refused with `RESOURCE_EXHAUSTED`. Off by default.
   */
  rateLimit?: { perSecond: number; burst?: number };
}

/** The input options of one `@Stream({ input })`. */
export interface StreamInputOptions {
  /** Overrides `input.maxMessageBytes` for this stream. */
  maxMessageBytes?: number;
  /** Overrides `input.maxQueue` for this stream. */
  maxQueue?: number;
}

/** Input options after defaults. */
export interface ResolvedInputOptions {
  maxMessageBytes: number;
  maxQueue: number;
  dedupWindowMs: number;
  dedupMaxIds: number;
  dedupMaxTotalIds: number;
  rateLimit: { perSecond: number; burst: number } | undefined;
}
