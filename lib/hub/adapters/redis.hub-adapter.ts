import { randomBytes } from 'node:crypto';
import { DEFAULT_HUB_MAX_TOPICS, DEFAULT_HUB_REDIS_WAIT_TIMEOUT_MS } from '../../longlink.defaults.js';
import { LONGLINK_LOGGER_CONTEXT } from '../../longlink.constants.js';
import { Logger } from '@nestjs/common';
import type { HubAdapter, HubAdapterEvents, HubHistory, HubIdempotency, HubPublished, HubRecord } from '../hub-adapter.interface.js';
import { IDEMPOTENT_PUBLISH_SCRIPT, PUBLISH_SCRIPT, idempotentScript } from './redis-publish.script.js';
import { CLUSTER_PUBLISH_SCRIPT, CLUSTER_TOPICS_SCRIPT } from './redis-cluster.scripts.js';

/** The cluster publish script with an idempotency key (KEYS 1-3 and ARGV 1-6 as {@link CLUSTER_PUBLISH_SCRIPT}). */
const CLUSTER_IDEMPOTENT_PUBLISH_SCRIPT = idempotentScript(CLUSTER_PUBLISH_SCRIPT);
import type { InputDedupStore } from '../../core/input/input-dedup.store.js';
import { RedisInputDedupStore } from './redis-input-dedup.store.js';
import type { InputForwarder } from '../../core/input/input-forwarder.interface.js';
import { RedisInputForwarder } from './redis-input.forwarder.js';
import { MESSAGE, POSITION, STARTUP_WAIT_MS, clusterConfig, parsePosition, type RedisHubAdapterOptions } from './redis-hub.support.js';
import { openRedis, type RedisCommandClient, type RedisConnections } from './redis-connections.js';
import { RedisKeys } from './redis-keys.js';
import type { PresenceStore } from '../presence/presence-store.interface.js';
import { RedisPresenceStore } from '../presence/redis.presence-store.js';
import { RedisClusterPresenceStore } from '../presence/redis-cluster.presence-store.js';
import type { Cluster, Redis } from 'ioredis';

export type { RedisHubAdapterOptions } from './redis-hub.support.js';

/** The command client with the adapter's scripts as commands. */
type ScriptedClient = RedisCommandClient & {
  longlinkPublish(...args: (string | number)[]): Promise<[string, string]>;
  longlinkClusterPublish(...args: (string | number)[]): Promise<string>;
  longlinkPublishOnce(...args: (string | number)[]): Promise<[0 | 1, string]>;
  longlinkClusterPublishOnce(...args: (string | number)[]): Promise<[0 | 1, string]>;
  longlinkTopics(...args: (string | number)[]): Promise<string[]>;
};

/**
 * The Redis adapter: history in a Redis Stream per topic (capped), delivery to every
 * instance over Redis Pub/Sub, an epoch key that tells a lost history apart. Needs Redis
 * >= 7 and `ioredis`. On a Redis Cluster (`redis: { cluster: { nodes, options } }`) a topic's
 * keys and channel share one slot (hash tag) and delivery uses sharded Pub/Sub.
 *
 * Guarantees: a publish resolves once it is in Redis (and, with `redisWaitReplicas`, on that
 * many replicas), or rejects (if the connection drops mid-publish, the outcome is unknown; the
 * command is not resent, so it is never stored twice). Pub/Sub delivers each record to each
 * subscribed instance once; when an instance's connection drops, the hub catches up from the
 * stream's history after the reconnect (or sends a reset when that is impossible).
 *
 * @publicApi
 */
export class RedisHubAdapter implements HubAdapter {
  readonly origin = '0-0';
  readonly idempotentPublish = true;
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  private connections: RedisConnections | undefined;
  private readonly keys: RedisKeys;
  private cachedEpoch: string | undefined;

  constructor(private readonly options: RedisHubAdapterOptions) {
    this.keys = new RedisKeys(options.keyPrefix, clusterConfig(options.redis) !== undefined);
  }

  private get client(): ScriptedClient {
    if (!this.connections) throw new Error('RedisHubAdapter is not started');
    const command = this.connections.command;
    // A cluster queues commands while it is not ready: fail fast instead (a single Redis does by itself).
    if (this.connections.cluster && command.status !== 'ready') throw new Error('Redis Cluster is not connected');
    return command as ScriptedClient;
  }

  async start(events: HubAdapterEvents): Promise<void> {
    const connections = openRedis(
      this.options,
      {
        message: (channel, payload) => {
          const topic = this.keys.topicOf(channel);
          const match = MESSAGE.exec(payload);
          if (topic === undefined || !match) return; // not ours, or malformed: ignored
          events.message(topic, match[1]!, { position: match[2]!, json: payload.slice(match[0].length) });
        },
        disconnected: () => events.disconnected(),
        reconnected: () => {
          this.cachedEpoch = undefined;
          events.reconnected();
        },
      },
      this.logger,
    );
    this.connections = connections;
    const command = connections.command;
    command.defineCommand('longlinkPublish', { numberOfKeys: 4, lua: PUBLISH_SCRIPT });
    command.defineCommand('longlinkClusterPublish', { numberOfKeys: 3, lua: CLUSTER_PUBLISH_SCRIPT });
    command.defineCommand('longlinkPublishOnce', { numberOfKeys: 5, lua: IDEMPOTENT_PUBLISH_SCRIPT });
    command.defineCommand('longlinkClusterPublishOnce', { numberOfKeys: 4, lua: CLUSTER_IDEMPOTENT_PUBLISH_SCRIPT });
    command.defineCommand('longlinkTopics', { numberOfKeys: 1, lua: CLUSTER_TOPICS_SCRIPT });
    // Give the first connection a moment; if Redis is down, the app starts anyway and the hub
    // answers UNAVAILABLE until it is back.
    const ready = command.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => command.once('ready', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const connected = await Promise.race([
      Promise.all([ready, connections.subscriber.ready()]).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), STARTUP_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!connected) this.logger.warn(`Redis is not reachable yet; the hub answers UNAVAILABLE until it is`);
  }

  async epoch(fresh = false): Promise<string> {
    if (this.cachedEpoch && !fresh) return this.cachedEpoch;
    await this.client.set(this.keys.epoch, randomBytes(4).toString('hex'), 'NX');
    const epoch = await this.client.get(this.keys.epoch);
    if (!epoch) throw new Error('Redis epoch key vanished');
    this.cachedEpoch = epoch;
    return epoch;
  }

  /**
   * Appends a record. With `idempotency`, the publish script runs wrapped (redis-publish.script.ts)
   * with the key `<prefix>{<topic>}:idem:<key>` (hash-tagged with the topic, so in its slot on a
   * cluster) and its lifetime as one more key and argument, last: a repeated key stores nothing
   * and answers the first publish's position.
   */
  async publish(topic: string, json: string, idempotency?: HubIdempotency): Promise<HubPublished> {
    const { historySize, historyMaxAgeMs, topicTtlMs = 0, maxTopics = DEFAULT_HUB_MAX_TOPICS, keyPrefix } = this.options;
    const keys = this.keys;
    const idem = idempotency ? `${keyPrefix}{${topic}}:idem:${idempotency.key}` : undefined;
    if (!keys.cluster) {
      const args = [keys.stream(topic), keys.epoch, keys.watermark(topic), keys.topics];
      const argv = [json, historySize, randomBytes(4).toString('hex'), historyMaxAgeMs, keys.channel(topic), topicTtlMs, maxTopics, keyPrefix, topic];
      if (idem === undefined) {
        const [epoch, position] = (await this.withWait('longlinkPublish', [...args, ...argv])) as [string, string];
        this.cachedEpoch = epoch;
        return { epoch, record: { position, json } };
      }
      const [duplicate, result] = (await this.withWait('longlinkPublishOnce', [...args, idem, ...argv, idempotency!.ttlMs])) as [0 | 1, string];
      const [epoch, position] = result.split(' ') as [string, string];
      if (!duplicate) this.cachedEpoch = epoch;
      return duplicate ? { epoch, record: { position, json }, duplicate: true } : { epoch, record: { position, json } };
    }
    // A cluster: the epoch and the topics index are in slots of their own, read and written
    // apart from the topic's script (README, "Redis Cluster").
    const epoch = await this.epoch();
    const args = [keys.stream(topic), keys.watermark(topic), keys.channel(topic)];
    const argv = [json, historySize, epoch, historyMaxAgeMs, topicTtlMs, this.connections!.publishCommand()];
    if (idem === undefined) {
      const position = (await this.withWait('longlinkClusterPublish', [...args, ...argv])) as string;
      void this.indexTopic(topic, topicTtlMs, maxTopics);
      return { epoch, record: { position, json } };
    }
    const [duplicate, position] = (await this.withWait('longlinkClusterPublishOnce', [...args, idem, ...argv, idempotency!.ttlMs])) as [
      0 | 1,
      string,
    ];
    if (duplicate) return { epoch, record: { position, json }, duplicate: true };
    void this.indexTopic(topic, topicTtlMs, maxTopics);
    return { epoch, record: { position, json } };
  }

  private async withWait(
    script: 'longlinkPublish' | 'longlinkClusterPublish' | 'longlinkPublishOnce' | 'longlinkClusterPublishOnce',
    args: (string | number)[],
  ): Promise<unknown> {
    const replicas = this.options.redisWaitReplicas ?? 0;
    if (replicas === 0) return this.client[script](...args);
    const timeoutMs = this.options.redisWaitTimeoutMs ?? DEFAULT_HUB_REDIS_WAIT_TIMEOUT_MS;
    const pipeline = this.client.pipeline() as ReturnType<RedisCommandClient['pipeline']> &
      Record<typeof script, (...a: (string | number)[]) => unknown>;
    pipeline[script](...args);
    pipeline.wait(replicas, timeoutMs);
    const results = await pipeline.exec();
    const [stored, waited] = results ?? [];
    if (!stored || stored[0]) throw stored?.[0] ?? new Error('Redis pipeline aborted');
    if (!waited || waited[0]) throw waited?.[0] ?? new Error('Redis pipeline aborted');
    const acked = Number(waited[1]);
    if (acked < replicas) {
      throw new Error(`stored on the master, but ${acked} of ${replicas} replicas confirmed it within ${timeoutMs} ms (a failover may lose it)`);
    }
    return stored[1];
  }

  /**
   * A cluster: the topics index (maxTopics, topicTtlMs) is updated after the publish, and the
   * topics it forgets are deleted one slot at a time. Best effort: a failure here leaves the
   * publish as it is (stored and delivered); the next publish of the topic records it again.
   */
  private async indexTopic(topic: string, ttlMs: number, maxTopics: number): Promise<void> {
    try {
      const forgotten = await this.client.longlinkTopics(this.keys.topics, topic, ttlMs, maxTopics);
      for (const gone of forgotten) await this.client.del(this.keys.stream(gone), this.keys.watermark(gone));
    } catch (error) {
      this.logger.debug?.(`Redis topics index: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * A topic's watermark, newest entry and entries after `position` (when given), with the
   * epoch, read at once: in one transaction with the epoch key on a single Redis; on a cluster
   * (the epoch in another slot) the topic's keys in one transaction, the epoch just before.
   */
  private async readTopic(topic: string, after: string | undefined, newest: number): Promise<{ epoch: string; results: unknown[] }> {
    const key = this.keys.stream(topic);
    const epoch = this.keys.cluster ? await this.epoch() : undefined;
    const tx = this.client.multi();
    if (!this.keys.cluster) tx.get(this.keys.epoch);
    tx.get(this.keys.watermark(topic)).xrevrange(key, '+', '-', 'COUNT', newest);
    if (after !== undefined) tx.xrange(key, `(${after}`, '+');
    const replies = await tx.exec();
    const failed = replies?.find(([error]) => error);
    if (!replies || failed) throw failed?.[0] ?? new Error('Redis transaction aborted');
    const results = replies.map(([, value]) => value);
    const stored = epoch ?? (results.shift() as string | null) ?? (await this.epoch(true));
    return { epoch: stored, results };
  }

  async history(topic: string, position: string): Promise<HubHistory> {
    const { epoch, results } = await this.readTopic(topic, position, 1);
    const mark = results[0] as string | null;
    // `b:<id>`: the topic's current life began at <id>; positions before it belong to a life that is gone.
    const born = mark?.startsWith('b:') ? mark.slice(2) : undefined;
    const watermark = born ?? mark;
    const [newest] = results[1] as [string, string[]][];
    const latest = newest?.[0];
    if (latest === undefined) {
      // An empty or expired topic: resuming from the origin misses nothing, anything else is unknown.
      return position === this.origin && watermark === null
        ? { epoch, kind: 'complete', records: [] }
        : { epoch, kind: 'gap', reason: watermark === null ? 'unknown' : 'too-old', latest: undefined };
    }
    if (this.compare(position, latest) > 0) return { epoch, kind: 'gap', reason: 'unknown', latest };
    const fromStart = position === this.origin && born !== undefined;
    if (watermark !== null && !fromStart && this.compare(position, watermark) < 0) return { epoch, kind: 'gap', reason: 'too-old', latest };
    const entries = results[2] as [string, string[]][];
    return {
      epoch,
      kind: 'complete',
      records: entries.map(([id, fields]) => ({ position: id, json: fields[fields.indexOf('d') + 1] as string })),
    };
  }

  async recent(topic: string, limit: number): Promise<{ epoch: string; records: HubRecord[] }> {
    const count = Math.min(Math.max(0, Math.floor(limit)), this.options.historySize);
    if (count === 0) return { epoch: await this.epoch(), records: [] };
    // The epoch and the records are of the same life of the store.
    const { epoch, results } = await this.readTopic(topic, undefined, count);
    const entries = results[1] as [string, string[]][];
    const records: HubRecord[] = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const [id, fields] = entries[i]!;
      records.push({ position: id, json: fields[fields.indexOf('d') + 1] as string });
    }
    return { epoch, records };
  }

  async latest(topic: string): Promise<string | undefined> {
    const [entry] = (await this.client.xrevrange(this.keys.stream(topic), '+', '-', 'COUNT', 1)) as [string, string[]][];
    return entry?.[0];
  }

  async subscribe(topic: string): Promise<void> {
    if (!this.connections) throw new Error('RedisHubAdapter is not started');
    await this.connections.subscriber.subscribe(this.keys.channel(topic));
  }

  async unsubscribe(topic: string): Promise<void> {
    await this.connections?.subscriber.unsubscribe(this.keys.channel(topic));
  }

  compare(a: string, b: string): number {
    const [am, as] = parsePosition(a);
    const [bm, bs] = parsePosition(b);
    return am !== bm ? am - bm : as - bs;
  }

  isPosition(position: string): boolean {
    return POSITION.test(position);
  }

  presenceStore(ttlMs: number): PresenceStore {
    return this.keys.cluster
      ? new RedisClusterPresenceStore(() => this.client as Cluster, this.keys, ttlMs)
      : new RedisPresenceStore(() => this.client as Redis, this.keys, ttlMs);
  }

  inputDedup(windowMs: number): InputDedupStore {
    return new RedisInputDedupStore(() => this.client as unknown as Redis, this.options.keyPrefix, windowMs);
  }

  inputForwarder(timeoutMs: number): InputForwarder {
    return new RedisInputForwarder(() => this.client as unknown as Redis, this.options.keyPrefix, timeoutMs);
  }

  async ping(): Promise<void> {
    const client = this.client;
    // A cluster answers for the hub only if every master does (a topic's slot may be on any of them).
    if (this.keys.cluster) await Promise.all((client as Cluster).nodes('master').map((node) => node.ping()));
    else await client.ping();
  }

  async close(): Promise<void> {
    this.connections?.command.disconnect();
    this.connections?.subscriber.close();
  }
}
