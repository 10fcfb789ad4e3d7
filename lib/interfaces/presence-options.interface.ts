/** Presence options (`hub.presence`). */
export interface PresenceOptions {
  /**
   * Redis: an entry expires this long after its instance last refreshed it (every `ttlMs / 3`);
   * a killed instance's members leave within 2 × `ttlMs`. Default 15000.
   */
  ttlMs?: number;
  /** A closed connection leaves this long after (a reconnect within it does not flap). Default 3000. */
  graceMs?: number;
  /** Metas (tracked connections) per topic at most. Default 10000. */
  maxMembers?: number;
  /** JSON bytes of one meta at most. Default 1024. */
  maxMetaBytes?: number;
  /** Updates per tracked connection and second at most. Default 10. */
  maxUpdatesPerSecond?: number;
}
