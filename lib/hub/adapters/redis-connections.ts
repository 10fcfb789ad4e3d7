import type { Logger } from '@nestjs/common';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { RedisChannelSubscriber } from './redis-channel.subscriber.js';
import { clusterConfig, loadIoredis, type RedisHubAdapterOptions } from './redis-hub.support.js';
import { RedisShardSubscribers } from './redis-shard.subscribers.js';
import type { RedisSubscriber, RedisSubscriberEvents } from './redis-subscriber.interface.js';

/** The command client: a `Redis` or a `Cluster` (the adapter uses what both have). */
export type RedisCommandClient = Redis | Cluster;

/** The Redis adapter's connections: commands, and Pub/Sub. */
export interface RedisConnections {
  command: RedisCommandClient;
  subscriber: RedisSubscriber;
  /** A Redis Cluster (hash-tagged keys, one slot per script). */
  cluster: boolean;
  /** The command a publish notifies with: `SPUBLISH` on a cluster of Redis >= 7 whose client has `ssubscribe`. */
  publishCommand(): 'SPUBLISH' | 'PUBLISH';
}

/** ioredis' module: the `Redis` class (default export on 5.x, named too on later ones) and `Cluster`. */
type IoredisModule = (new (...args: unknown[]) => Redis) & {
  Cluster: new (...args: unknown[]) => Cluster;
  Command?: { checkFlag?(flag: string, command: string): boolean };
};

/** Connect now and reconnect quickly, for ever; commands fail at once while disconnected. */
const RETRY: RedisOptions = { retryStrategy: (times: number) => Math.min(times * 50, 500), maxRetriesPerRequest: 1 };
/** A publish whose reply was lost must not run again after the reconnect (it would be stored twice). */
const NO_RESEND: RedisOptions = { enableOfflineQueue: false, autoResendUnfulfilledCommands: false };

/** Opens the connections `options.redis` describes: one Redis server, or a Redis Cluster. */
export function openRedis(options: RedisHubAdapterOptions, events: RedisSubscriberEvents, logger: Logger): RedisConnections {
  const IORedis = loadIoredis<IoredisModule>();
  const log = (name: string) => (error: Error) => logger.debug?.(`Redis ${name} connection: ${error.message}`);
  const cluster = clusterConfig(options.redis);
  if (!cluster) {
    const create = (extra: RedisOptions) =>
      typeof options.redis === 'string' ? new IORedis(options.redis, { ...RETRY, ...extra }) : new IORedis({ ...options.redis, ...RETRY, ...extra });
    const command = create(NO_RESEND);
    const subscriber = create({ enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true });
    command.on('error', log('command'));
    subscriber.on('error', log('subscriber'));
    const whenCommandReady = (fn: () => void) => (command.status === 'ready' ? fn() : void command.once('ready', fn));
    return { command, subscriber: new RedisChannelSubscriber(subscriber, whenCommandReady, events), cluster: false, publishCommand: () => 'PUBLISH' };
  }
  if (options.keyPrefix.includes('{') || options.keyPrefix.includes('}')) {
    throw new Error('LonglinkModule: on a Redis Cluster, hub.keyPrefix must not contain "{" or "}" (topics are the keys\' hash tags)');
  }
  const user = cluster.options;
  // A node's connection is opened by its first command: that one and those sent while it connects
  // wait (at most connectTimeout) in the node's queue.
  const redisOptions: RedisOptions = {
    connectTimeout: 2000,
    ...(user.redisOptions as RedisOptions | undefined),
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
  };
  const command = new IORedis.Cluster(cluster.nodes, {
    ...user,
    // Fail fast while a slot has no reachable master (the adapter refuses commands while the
    // cluster is not ready), and never send a command again after its connection closed (it may
    // have run): the hub answers UNAVAILABLE and catches up later.
    enableOfflineQueue: true,
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    clusterRetryStrategy: (times: number) => Math.min(times * 50, 500),
    shardedSubscribers: false,
    redisOptions,
  });
  command.on('error', log('cluster'));
  // Sharded Pub/Sub needs Redis >= 7 and an ioredis whose connections enter subscriber mode on
  // `ssubscribe` (5.3.0 and later; older ones may list the command but misread its replies).
  const clientCanShard = IORedis.Command?.checkFlag?.('ENTER_SUBSCRIBER_MODE', 'ssubscribe') === true;
  if (!clientCanShard) {
    logger.warn(
      'Redis Cluster: this ioredis has no sharded Pub/Sub (ssubscribe, ioredis >= 5.3.0): classic Pub/Sub is used, which sends every publish to every node. Every instance must use the same mode.',
    );
  }
  let serverCanShard = true;
  const checkServer = async () => {
    const info = await command.info('server');
    const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 7);
    if (major < 7 && serverCanShard) {
      logger.warn(
        `Redis Cluster: Redis ${major} has no sharded Pub/Sub (Redis >= 7): classic Pub/Sub is used, which sends every publish to every node`,
      );
    }
    serverCanShard = major >= 7;
  };
  const sharded = () => clientCanShard && serverCanShard;
  const connect = (host: string, port: number) => {
    const client = new IORedis({
      ...redisOptions,
      host,
      port,
      // No reconnect of its own: a lost shard connection is replaced by the recovery, on the
      // slot's owner of then.
      retryStrategy: () => null,
      autoResubscribe: false,
      maxRetriesPerRequest: null,
    });
    return client;
  };
  const subscriber = new RedisShardSubscribers(command, connect, sharded, events, checkServer);
  return { command, subscriber, cluster: true, publishCommand: () => (sharded() ? 'SPUBLISH' : 'PUBLISH') };
}
