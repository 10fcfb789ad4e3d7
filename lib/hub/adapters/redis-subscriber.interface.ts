/** What a Redis subscriber tells the adapter. */
export interface RedisSubscriberEvents {
  /** A message on one of our channels (any instance's publish). */
  message(channel: string, payload: string): void;
  /** Live delivery stopped on some channel: records published from now on may be missed. */
  disconnected(): void;
  /** Every wanted channel is subscribed again: the hub catches up from history. */
  reconnected(): void;
}

/**
 * The Pub/Sub side of the Redis adapter: one connection on a single Redis, one per shard that
 * owns a live topic on a Redis Cluster. Subscribes fail fast while it is disconnected.
 */
export interface RedisSubscriber {
  /** Resolves once live delivery is up (the caller bounds the wait). */
  ready(): Promise<void>;
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  close(): void;
}

/** Subscribes on `client`, failing at once when its connection drops before the reply (no resend). */
export function subscribeOnce(
  client: { once(event: 'close', fn: () => void): unknown; off(event: 'close', fn: () => void): unknown },
  command: () => Promise<unknown>,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const lost = () => reject(new Error('Redis connection lost'));
    client.once('close', lost);
    command().then(
      () => {
        client.off('close', lost);
        resolve();
      },
      (error: unknown) => {
        client.off('close', lost);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
