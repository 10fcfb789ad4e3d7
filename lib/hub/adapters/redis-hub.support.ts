import { createRequire } from 'node:module';

/** The Redis adapter's options, its lazily loaded client class and the shapes of its positions and messages. */

/** Options of the Redis adapter. */
export interface RedisHubAdapterOptions {
  /**
   * `redis://host:port/db`, ioredis' `RedisOptions`, or `{ cluster: { nodes, options? } }`
   * (a Redis Cluster: startup nodes and ioredis' `ClusterOptions`), passed as they are. Typed
   * loosely on purpose: the published declarations must compile for apps that do not install ioredis.
   */
  redis: string | Record<string, unknown>;
  /** Prefix of every key and channel. Default `longlink:`. */
  keyPrefix: string;
  historySize: number;
  historyMaxAgeMs: number;
  /** A topic's keys expire this long after its last publish; 0: never. */
  topicTtlMs?: number;
  /**
   * Topics kept at most, through a sorted set of last-publish times (`<keyPrefix>topics`):
   * the least recently published topics' keys are deleted first. Default 10000.
   */
  maxTopics?: number;
  /** After each publish, wait for this many replicas (`WAIT`); 0: do not wait. */
  redisWaitReplicas?: number;
  /** How long a publish waits for `redisWaitReplicas` (ms). Default 1000. */
  redisWaitTimeoutMs?: number;
}

/** The cluster part of `redis`, when it is a cluster configuration. */
export function clusterConfig(redis: RedisHubAdapterOptions['redis']): { nodes: unknown[]; options: Record<string, unknown> } | undefined {
  if (typeof redis !== 'object' || redis === null || !('cluster' in redis)) return undefined;
  const cluster = redis.cluster as { nodes: unknown[]; options?: Record<string, unknown> };
  return { nodes: cluster.nodes, options: cluster.options ?? {} };
}

/** ioredis, an optional peer: loaded when the Redis adapter is used, with an install hint. */
export function loadIoredis<Client>(): Client {
  try {
    const module = createRequire(import.meta.url)('ioredis') as { default?: Client } & Client;
    return module.default ?? module;
  } catch {
    throw new Error('LonglinkModule: the Redis hub adapter (option "hub.redis") needs ioredis. Install it with: npm install ioredis');
  }
}

export const POSITION = /^\d{1,15}-\d{1,15}$/;
/** How long startup waits for the first connection before going on without it. */
export const STARTUP_WAIT_MS = 2000;
/** A channel message: `<epoch> <position> <json>`. */
export const MESSAGE = /^([0-9a-z]{1,64}) (\d{1,15}-\d{1,15}) /;

/** `<ms>-<seq>` as numbers. */
export function parsePosition(position: string): [number, number] {
  const dash = position.indexOf('-');
  return [Number(position.slice(0, dash)), Number(position.slice(dash + 1))];
}
