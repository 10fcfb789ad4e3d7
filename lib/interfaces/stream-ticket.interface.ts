/**
 * Remembers which tickets were used, so each is accepted once. The built-in store is in
 * memory, per process: with several instances behind a load balancer, give them a shared
 * store (e.g. Redis `SET id 1 NX PX <ttl>`), or a ticket could be used once per instance.
 *
 * @publicApi
 */
export interface StreamTicketStore {
  /**
   * Marks ticket `id` used; `true` the first time, `false` if it was used before. `expiresAt`
   * (epoch ms) is when the ticket expires: the store may forget the id after it. A store that
   * cannot take the id (full, its backend down) throws, e.g. a `StreamException` `UNAVAILABLE`
   * with `details.retryAfterMs`: the ticket is refused with that error, never let through.
   */
  consume(id: string, expiresAt: number): boolean | Promise<boolean>;
}

/**
 * Stream tickets: short-lived, single-use, HMAC-signed tokens for clients that cannot send
 * headers (`EventSource`). See README "Authentication in browsers".
 *
 * @publicApi
 */
export interface StreamTicketOptions {
  /**
   * HMAC-SHA256 key, at least 32 bytes. Default: random per process, so tickets are only
   * accepted by the process that issued them: multi-instance deployments MUST set it (the
   * same on every instance).
   */
  secret?: string | Buffer;
  /** Default lifetime of a ticket. Default 30000 ms. */
  ttlMs?: number;
  /** Where used tickets are remembered. Default: in memory, this process only. */
  store?: StreamTicketStore;
}

/** What a ticket is issued for. */
export interface IssueStreamTicketOptions {
  /**
   * Bind the ticket to these params too: the subscription's params (as the client sends them,
   * before pipes; query values are strings) must equal them exactly.
   */
  params?: Record<string, unknown>;
  /** Who the ticket is for (e.g. a user id); the guard puts it in `call.user`. */
  subject?: string;
  /** Lifetime; default the module's `tickets.ttlMs`. */
  ttlMs?: number;
}

/** A verified ticket. */
export interface StreamTicketClaims {
  /** The stream name it was issued for. */
  stream: string;
  subject?: string;
  /** Epoch ms. */
  expiresAt: number;
  /** Unique ticket id (what the store remembers). */
  id: string;
}
