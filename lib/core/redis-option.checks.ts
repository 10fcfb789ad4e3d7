import { fail } from './option-checks.js';

/**
 * Checks `hub.redis`: a `redis://` URL, or ioredis' options (kept as given, typed loosely so
 * that the published declarations do not need ioredis). A Sentinel configuration, ioredis'
 * `{ sentinels: [{ host, port }], name }`, and a Redis Cluster, `{ cluster: { nodes, options? } }`, are checked here so that a wrong one fails at
 * bootstrap with a message naming the field, instead of as endless reconnects.
 */
export function checkRedisOption(value: unknown): void {
  if (value === undefined || typeof value === 'string') return;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('hub.redis', 'a redis:// URL or ioredis options', value);
  }
  const o = value as Record<string, unknown>;
  if (o.cluster !== undefined) {
    const cluster = o.cluster;
    const nodes = typeof cluster === 'object' && cluster !== null ? (cluster as { nodes?: unknown }).nodes : undefined;
    if (!Array.isArray(nodes) || nodes.length === 0) {
      fail('hub.redis.cluster', '{ nodes: [...at least one "host:port" or { host, port }], options? }', cluster);
    }
    return;
  }
  if (o.sentinels === undefined) {
    if (o.name !== undefined) {
      fail('hub.redis.name', 'no value without hub.redis.sentinels (it is the Sentinel master group name)', o.name);
    }
    return;
  }
  checkSentinels(o);
}

/** ioredis' Sentinel options: at least one sentinel address, the master group's name, the master role. */
function checkSentinels(o: Record<string, unknown>): void {
  const sentinels = o.sentinels;
  if (!Array.isArray(sentinels) || sentinels.length === 0) {
    fail('hub.redis.sentinels', 'a non-empty array of { host, port } (the Sentinel addresses)', sentinels);
  }
  sentinels.forEach((s: unknown, i) => {
    const path = `hub.redis.sentinels[${i}]`;
    if (s === null || typeof s !== 'object' || Array.isArray(s)) fail(path, '{ host, port }', s);
    const { host, port } = s as { host?: unknown; port?: unknown };
    if (typeof host !== 'string' || host.length === 0) fail(`${path}.host`, 'a host name or IP address', host);
    if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
      fail(`${path}.port`, 'a port from 1 to 65535 (default 26379)', port);
    }
  });
  if (typeof o.name !== 'string' || o.name.length === 0) {
    fail('hub.redis.name', 'the master group name the sentinels monitor (e.g. "mymaster")', o.name);
  }
  // The hub writes (publish, presence): a replica would refuse every write.
  if (o.role !== undefined && o.role !== 'master') fail('hub.redis.role', '"master" (the hub writes to Redis)', o.role);
}
