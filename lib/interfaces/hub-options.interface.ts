import type { PresenceOptions } from './presence-options.interface.js';

/**
 * A Redis Cluster for the hub: startup nodes (`'host:port'` or `{ host, port }`) and ioredis'
 * `ClusterOptions`, passed as they are (typed loosely: the published declarations compile
 * without ioredis). On Redis >= 7 topics use sharded Pub/Sub.
 */
export type RedisClusterConfig = {
  cluster: {
    nodes: (string | { host: string; port: number })[];
    options?: Record<string, unknown>;
  };
};

/** Fan-out hub options. */
export interface HubOptions {
  /**
   * Use Redis (needs `ioredis`): a URL (`redis://127.0.0.1:6379`), ioredis options, or a Redis
   * Cluster as `{ cluster: { nodes, options? } }` (see {@link RedisClusterConfig}). Without it
   * the hub is in memory, within one instance.
   *
   * Sentinel: ioredis' `{ sentinels: [{ host, port }, ...], name: 'mymaster' }` (plus e.g.
   * `sentinelPassword`, `password`); the hub follows the master the sentinels name, across a
   * failover. Checked at bootstrap: `sentinels` a non-empty array of `{ host, port }`, `name`
   * a non-empty string, `role` (if given) `'master'`.
   */
  redis?: string | Record<string, unknown> | RedisClusterConfig;
  /**
   * Redis: after each publish, wait until this many replicas have it (`WAIT`), so a failover
   * cannot lose an acknowledged event; a publish whose replicas do not confirm it within
   * `redisWaitTimeoutMs` rejects with `UNAVAILABLE` (it is stored and delivered, but may be lost
   * on a failover). Default 0: no wait (asynchronous replication, PROTOCOL.md §6.4).
   */
  redisWaitReplicas?: number;
  /** Redis: how long a publish waits for `redisWaitReplicas` (ms). Default 1000. */
  redisWaitTimeoutMs?: number;
  /** Events kept per topic for resume. Default 1000. */
  historySize?: number;
  /** Also drop events older than this (ms); 0 keeps them until the count limit. Default 0. */
  historyMaxAgeMs?: number;
  /** Prefix of Redis keys and channels. Default `longlink:`. */
  keyPrefix?: string;
  /** Redis: a topic's keys expire this long after its last publish (0: never). Default 0. */
  topicTtlMs?: number;
  /**
   * Topics kept at most (in memory, and on Redis through a sorted set of last-publish times):
   * the least recently published are forgotten first. Default 10000.
   */
  maxTopics?: number;
  /**
   * In memory: bytes all topics' history may take on the heap, counted per record as its JSON
   * (1 byte per character, 2 when it has any character above U+00FF) plus a fixed overhead, and
   * per topic its name plus a fixed overhead. Past it the least recently published topic's
   * oldest events are dropped first (a resume past them gets a reset). Default 134217728 (128 MiB).
   */
  maxHistoryBytes?: number;
  /** Presence (`hub.track`, `hub.presence`, `hub.presenceStream`): TTL, grace window, limits. */
  presence?: PresenceOptions;
}
