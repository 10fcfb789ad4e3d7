import type { InputDedupStore } from '../../core/input/input-dedup.store.js';
import { RedisInputDedupStore } from './redis-input-dedup.store.js';
import type { InputForwarder } from '../../core/input/input-forwarder.interface.js';
import { RedisInputForwarder } from './redis-input.forwarder.js';
import { randomBytes } from 'node:crypto';
import { DEFAULT_HUB_MAX_TOPICS } from '../../longlink.defaults.js';
import { LONGLINK_LOGGER_CONTEXT } from '../../longlink.constants.js';
import { Logger } from '@nestjs/common';
import type { Redis, RedisOptions } from 'ioredis';
import type { HubAdapter, HubAdapterEvents, HubHistory, HubIdempotency, HubPublished, HubRecord } from '../hub-adapter.interface.js';
import { IDEMPOTENT_PUBLISH_SCRIPT, PUBLISH_SCRIPT } from './redis-publish.script.js';
import {
  MESSAGE,
  POSITION,
  STARTUP_WAIT_MS,
  loadIoredis,
  parsePosition,
  type RedisHubAdapterOptions,
} from './redis-hub.support.js';
import type { PresenceStore } from '../presence/presence-store.interface.js';
import { RedisPresenceStore } from '../presence/redis.presence-store.js';

export type { RedisHubAdapterOptions } from './redis-hub.support.js';

/** ioredis' client class (an optional peer, loaded on first use), with the publish script as a command. */
type IORedisClass = new (...args: unknown[]) => Redis & {
  longlinkPublish(...args: (string | number)[]): Promise<[string, string]>;
  longlinkPublishOnce(...args: (string | number)[]): Promise<[0 | 1, string]>;
};

/**
 * The Redis adapter: history in a Redis Stream per topic (capped), delivery to every
 * instance over Redis Pub/Sub, an epoch key that tells a lost history apart. Needs Redis
 * >= 7 and `ioredis`.
 *
 * Guarantees: a publish resolves once it is in Redis, or rejects (if the connection drops
 * mid-publish, the outcome is unknown; the command is not resent, so it is never stored
 * twice). Pub/Sub delivers each record to each subscribed instance once; when an instance's
 * connection drops, the hub catches up from the stream's history after the reconnect (or
 * sends a reset when that is impossible).
 *
 * @publicApi
 */
export class RedisHubAdapter implements HubAdapter {
  readonly origin = '0-0';
  readonly idempotentPublish = true;
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  private command: InstanceType<IORedisClass> | undefined;
  private subscriber: InstanceType<IORedisClass> | undefined;
  private readonly epochKey: string;
  private readonly topicsKey: string;
  private cachedEpoch: string | undefined;
  /** Channels this instance wants to be subscribed to. */
  private readonly channels = new Set<string>();
  /** Channels released while the subscriber connection was down (unsubscribed at its return). */
  private readonly releasedWhileDown = new Set<string>();

  constructor(private readonly options: RedisHubAdapterOptions) {
    this.epochKey = `${options.keyPrefix}epoch`;
    this.topicsKey = `${options.keyPrefix}topics`;
  }

  private streamKey(topic: string): string {
    return `${this.options.keyPrefix}t:${topic}`;
  }

  private watermarkKey(topic: string): string {
    return `${this.options.keyPrefix}w:${topic}`;
  }

  private channel(topic: string): string {
    return `${this.options.keyPrefix}c:${topic}`;
  }

  private get client(): InstanceType<IORedisClass> {
    if (!this.command) throw new Error('RedisHubAdapter is not started');
    return this.command;
  }

  async start(events: HubAdapterEvents): Promise<void> {
    const IORedis = loadIoredis<IORedisClass>();
    const base: RedisOptions = {
      // Connect now and reconnect quickly, for ever; commands fail at once while disconnected.
      retryStrategy: (times: number) => Math.min(times * 50, 500),
      maxRetriesPerRequest: 1,
    };
    const create = (extra: RedisOptions) =>
      typeof this.options.redis === 'string'
        ? new IORedis(this.options.redis, { ...base, ...extra })
        : new IORedis({ ...this.options.redis, ...base, ...extra });
    // A publish whose reply was lost must not run again after the reconnect (it would be stored twice).
    const command = create({ enableOfflineQueue: false, autoResendUnfulfilledCommands: false });
    // The subscriber keeps ioredis' own resubscription (and its offline queue, used only by that
    // and the 'ready' handler below); subscribe() and unsubscribe() never queue behind a
    // connection that is down (see there).
    const subscriber = create({ enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true });
    this.command = command;
    this.subscriber = subscriber;
    for (const [name, client] of [['command', command], ['subscriber', subscriber]] as const) {
      client.on('error', (error: Error) => this.logger.debug?.(`Redis ${name} connection: ${error.message}`));
    }
    command.defineCommand('longlinkPublish', { numberOfKeys: 4, lua: PUBLISH_SCRIPT });
    command.defineCommand('longlinkPublishOnce', { numberOfKeys: 5, lua: IDEMPOTENT_PUBLISH_SCRIPT });
    const prefix = this.channel('');
    subscriber.on('message', (channel: string, payload: string) => {
      const match = MESSAGE.exec(payload);
      if (!channel.startsWith(prefix) || !match) return; // not ours, or malformed: ignored
      events.message(channel.slice(prefix.length), match[1]!, {
        position: match[2]!,
        json: payload.slice(match[0].length),
      });
    });
    // Live delivery is lost from the subscriber's 'close' until it is 'ready' again and the
    // command connection can read history.
    let live = false;
    const whenCommandReady = (fn: () => void) => {
      if (command.status === 'ready') return fn();
      command.once('ready', fn);
    };
    subscriber.on('ready', () => {
      if (live) return;
      // Catch-up reads history after this; the channels must be subscribed again first, or
      // a publish between that read and the resubscription would be lost.
      const channels = [...this.channels];
      // Channels released while the connection was down, which ioredis has just resubscribed.
      const stale = [...this.releasedWhileDown].filter((c) => !this.channels.has(c));
      this.releasedWhileDown.clear();
      if (stale.length) void subscriber.unsubscribe(...stale).catch(() => undefined);
      const resubscribed = channels.length ? subscriber.subscribe(...channels) : Promise.resolve();
      void resubscribed.then(
        () =>
          whenCommandReady(() => {
            if (live || subscriber.status !== 'ready') return;
            live = true;
            this.cachedEpoch = undefined;
            events.reconnected();
          }),
        () => undefined, // the connection dropped again: the next 'ready' retries
      );
    });
    subscriber.on('close', () => {
      if (!live) return;
      live = false;
      events.disconnected();
    });
    // The first 'ready' is not a reconnect: nothing to catch up on, but the same call is harmless.
    // Give the first connection a moment; if Redis is down, the app starts anyway and the hub
    // answers UNAVAILABLE until it is back.
    const ready = (client: Redis) =>
      client.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => client.once('ready', () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const connected = await Promise.race([
      Promise.all([ready(command), ready(subscriber)]).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), STARTUP_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!connected) this.logger.warn(`Redis is not reachable yet; the hub answers UNAVAILABLE until it is`);
  }

  async epoch(fresh = false): Promise<string> {
    if (this.cachedEpoch && !fresh) return this.cachedEpoch;
    await this.client.set(this.epochKey, randomBytes(4).toString('hex'), 'NX');
    const epoch = await this.client.get(this.epochKey);
    if (!epoch) throw new Error('Redis epoch key vanished');
    this.cachedEpoch = epoch;
    return epoch;
  }

  async publish(topic: string, json: string, idempotency?: HubIdempotency): Promise<HubPublished> {
    if (idempotency) return this.publishOnce(topic, json, idempotency);
    const [epoch, position] = await this.client.longlinkPublish(
      this.streamKey(topic),
      this.epochKey,
      this.watermarkKey(topic),
      this.topicsKey,
      json,
      this.options.historySize,
      randomBytes(4).toString('hex'),
      this.options.historyMaxAgeMs,
      this.channel(topic),
      this.options.topicTtlMs ?? 0,
      this.options.maxTopics ?? DEFAULT_HUB_MAX_TOPICS,
      this.options.keyPrefix,
      topic,
    );
    this.cachedEpoch = epoch;
    return { epoch, record: { position, json } };
  }

  async history(topic: string, position: string): Promise<HubHistory> {
    const key = this.streamKey(topic);
    const results = await this.client
      .multi()
      .get(this.epochKey)
      .get(this.watermarkKey(topic))
      .xrevrange(key, '+', '-', 'COUNT', 1)
      .xrange(key, `(${position}`, '+')
      .exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('Redis transaction aborted');
    const epoch = (results[0]![1] as string | null) ?? (await this.epoch(true));
    const mark = results[1]![1] as string | null;
    // `b:<id>`: the topic's current life began at <id>; positions before it belong to a life that is gone.
    const born = mark?.startsWith('b:') ? mark.slice(2) : undefined;
    const watermark = born ?? mark;
    const [newest] = results[2]![1] as [string, string[]][];
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
    const entries = results[3]![1] as [string, string[]][];
    return {
      epoch,
      kind: 'complete',
      records: entries.map(([id, fields]) => ({ position: id, json: fields[fields.indexOf('d') + 1] as string })),
    };
  }

  async recent(topic: string, limit: number): Promise<{ epoch: string; records: HubRecord[] }> {
    const count = Math.min(Math.max(0, Math.floor(limit)), this.options.historySize);
    if (count === 0) return { epoch: await this.epoch(), records: [] };
    // One transaction: the epoch and the records are of the same life of the store.
    const results = await this.client.multi().get(this.epochKey).xrevrange(this.streamKey(topic), '+', '-', 'COUNT', count).exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('Redis transaction aborted');
    const epoch = (results[0]![1] as string | null) ?? (await this.epoch(true));
    const entries = results[1]![1] as [string, string[]][];
    const records: HubRecord[] = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const [id, fields] = entries[i]!;
      records.push({ position: id, json: fields[fields.indexOf('d') + 1] as string });
    }
    return { epoch, records };
  }

  async latest(topic: string): Promise<string | undefined> {
    const [entry] = (await this.client.xrevrange(this.streamKey(topic), '+', '-', 'COUNT', 1)) as [string, string[]][];
    return entry?.[0];
  }

  async subscribe(topic: string): Promise<void> {
    // While disconnected, fail at once rather than wait for the reconnect.
    const subscriber = this.subscriber;
    if (subscriber?.status !== 'ready') throw new Error('Redis is not connected');
    this.channels.add(this.channel(topic));
    // Nor wait for it when the connection drops before the reply (ioredis would resend it then).
    await new Promise<void>((resolve, reject) => {
      const lost = () => reject(new Error('Redis connection lost'));
      subscriber.once('close', lost);
      subscriber.subscribe(this.channel(topic)).then(
        () => {
          subscriber.off('close', lost);
          resolve();
        },
        (error: unknown) => {
          subscriber.off('close', lost);
          reject(error);
        },
      );
    });
  }

  async unsubscribe(topic: string): Promise<void> {
    const channel = this.channel(topic);
    this.channels.delete(channel);
    // Never queued while disconnected: a subscribe to the same topic would wait behind it
    // (the hub runs a topic's operations in order). The reconnect drops it instead.
    if (this.subscriber?.status !== 'ready') {
      this.releasedWhileDown.add(channel);
      return;
    }
    await this.subscriber.unsubscribe(channel);
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
    return new RedisPresenceStore(() => this.client, this.options.keyPrefix, ttlMs);
  }

  inputDedup(windowMs: number): InputDedupStore {
    return new RedisInputDedupStore(() => this.client, this.options.keyPrefix, windowMs);
  }

  /**
   * An idempotent publish: the publish script wrapped (redis-publish.script.ts), with the key
   * `<prefix>{<topic>}:idem:<key>` (hash-tagged with the topic, which never contains braces) and
   * its lifetime as one more key and argument, last.
   */
  private async publishOnce(topic: string, json: string, idempotency: HubIdempotency): Promise<HubPublished> {
    const [duplicate, result] = await this.client.longlinkPublishOnce(
      this.streamKey(topic),
      this.epochKey,
      this.watermarkKey(topic),
      this.topicsKey,
      `${this.options.keyPrefix}{${topic}}:idem:${idempotency.key}`,
      json,
      this.options.historySize,
      randomBytes(4).toString('hex'),
      this.options.historyMaxAgeMs,
      this.channel(topic),
      this.options.topicTtlMs ?? 0,
      this.options.maxTopics ?? DEFAULT_HUB_MAX_TOPICS,
      this.options.keyPrefix,
      topic,
      idempotency.ttlMs,
    );
    const [epoch, position] = result.split(' ') as [string, string];
    if (!duplicate) this.cachedEpoch = epoch;
    return duplicate ? { epoch, record: { position, json }, duplicate: true } : { epoch, record: { position, json } };
  }

  inputForwarder(timeoutMs: number): InputForwarder {
    return new RedisInputForwarder(() => this.client, this.options.keyPrefix, timeoutMs);
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    this.command?.disconnect();
    this.subscriber?.disconnect();
  }
}
