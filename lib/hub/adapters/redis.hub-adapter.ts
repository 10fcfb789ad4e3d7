import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Logger } from '@nestjs/common';
import type { Redis, RedisOptions } from 'ioredis';
import type { HubAdapter, HubAdapterEvents, HubHistory, HubRecord } from '../hub-adapter.interface.js';

/** Options of the Redis adapter. */
export interface RedisHubAdapterOptions {
  /** `redis://host:port/db` or ioredis options. */
  redis: string | RedisOptions;
  /** Prefix of every key and channel. Default `longlink:`. */
  keyPrefix: string;
  historySize: number;
  historyMaxAgeMs: number;
}

/**
 * Appends to the topic's Redis Stream (capped at exactly `historySize` entries, and by age),
 * then publishes the record on the topic's channel, atomically, so every instance sees
 * publishes in stream order. Creates the epoch key if it is missing (a Redis that lost its
 * data gets a new epoch).
 */
const PUBLISH_SCRIPT = `
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[2], epoch)
end
-- KEYS[3], the watermark: every entry after it is still in the stream.
local over = redis.call('XLEN', KEYS[1]) + 1 - tonumber(ARGV[2])
if over > 0 then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over)
  redis.call('SET', KEYS[3], gone[#gone][1])
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'd', ARGV[1])
if tonumber(ARGV[4]) > 0 then
  local t = redis.call('TIME')
  local oldest = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[4])
  local before = redis.call('XRANGE', KEYS[1], '-', '(' .. oldest .. '-0')
  if #before > 0 then
    redis.call('SET', KEYS[3], before[#before][1])
    redis.call('XTRIM', KEYS[1], 'MINID', oldest .. '-0')
  end
end
redis.call('PUBLISH', ARGV[5], epoch .. ' ' .. id .. ' ' .. ARGV[1])
return {epoch, id}
`;

type IORedisClass = new (...args: unknown[]) => Redis & {
  longlinkPublish(...args: (string | number)[]): Promise<[string, string]>;
};

function loadIoredis(): IORedisClass {
  try {
    const module = createRequire(import.meta.url)('ioredis') as { default?: IORedisClass } & IORedisClass;
    return module.default ?? module;
  } catch {
    throw new Error('LonglinkModule: the Redis hub adapter (option "hub.redis") needs ioredis. Install it with: npm install ioredis');
  }
}

function parsePosition(position: string): [number, number] {
  const dash = position.indexOf('-');
  return [Number(position.slice(0, dash)), Number(position.slice(dash + 1))];
}

/**
 * The Redis adapter: history in a Redis Stream per topic (capped), delivery to every
 * instance over Redis Pub/Sub, an epoch key that tells a lost history apart. Needs Redis
 * >= 7 and `ioredis`.
 *
 * Guarantees: a publish resolves once it is in Redis (or rejects: nothing is lost
 * silently); live delivery is at most once per subscriber, and after a reconnect the hub
 * fills the gap from the stream's history (or sends a reset).
 *
 * @publicApi
 */
export class RedisHubAdapter implements HubAdapter {
  private readonly logger = new Logger('LonglinkHub');
  private command!: InstanceType<IORedisClass>;
  private subscriber!: InstanceType<IORedisClass>;
  private readonly epochKey: string;
  private currentEpoch: string | undefined;

  constructor(private readonly options: RedisHubAdapterOptions) {
    this.epochKey = `${options.keyPrefix}epoch`;
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

  async start(events: HubAdapterEvents): Promise<void> {
    const IORedis = loadIoredis();
    const base: RedisOptions = {
      lazyConnect: true,
      // Reconnect quickly and for ever; commands fail at once while disconnected.
      retryStrategy: (times: number) => Math.min(times * 50, 500),
      maxRetriesPerRequest: 1,
    };
    const create = (extra: RedisOptions) =>
      typeof this.options.redis === 'string'
        ? new IORedis(this.options.redis, { ...base, ...extra })
        : new IORedis({ ...this.options.redis, ...base, ...extra });
    this.command = create({ enableOfflineQueue: false });
    this.subscriber = create({ enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true });
    for (const [name, client] of [['command', this.command], ['subscriber', this.subscriber]] as const) {
      client.on('error', (error: Error) => this.logger.debug?.(`Redis ${name} connection: ${error.message}`));
    }
    this.command.defineCommand('longlinkPublish', { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
    const prefix = this.channel('');
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (!channel.startsWith(prefix)) return;
      const first = payload.indexOf(' ');
      const second = payload.indexOf(' ', first + 1);
      events.message(channel.slice(prefix.length), payload.slice(0, first), {
        position: payload.slice(first + 1, second),
        json: payload.slice(second + 1),
      });
    });
    await Promise.all([this.command.connect(), this.subscriber.connect()]);
    let readyOnce = false;
    this.subscriber.on('ready', () => {
      if (readyOnce) {
        this.currentEpoch = undefined;
        events.reconnected();
      }
      readyOnce = true;
    });
    // 'ready' fired during connect(); later ones are reconnects.
    readyOnce = true;
  }

  async epoch(): Promise<string> {
    if (this.currentEpoch) return this.currentEpoch;
    await this.command.set(this.epochKey, randomBytes(4).toString('hex'), 'NX');
    const epoch = await this.command.get(this.epochKey);
    if (!epoch) throw new Error('Redis epoch key vanished');
    this.currentEpoch = epoch;
    return epoch;
  }

  async publish(topic: string, json: string): Promise<{ epoch: string; record: HubRecord }> {
    const [epoch, position] = await this.command.longlinkPublish(
      this.streamKey(topic),
      this.epochKey,
      this.watermarkKey(topic),
      json,
      this.options.historySize,
      randomBytes(4).toString('hex'),
      this.options.historyMaxAgeMs,
      this.channel(topic),
    );
    this.currentEpoch = epoch;
    return { epoch, record: { position, json } };
  }

  async history(topic: string, position: string): Promise<HubHistory> {
    const key = this.streamKey(topic);
    const results = await this.command
      .multi()
      .get(this.watermarkKey(topic))
      .xrevrange(key, '+', '-', 'COUNT', 1)
      .xrange(key, `(${position}`, '+')
      .exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('Redis transaction aborted');
    const watermark = results[0]![1] as string | null;
    const [newest] = results[1]![1] as [string, string[]][];
    const latest = newest?.[0];
    if (latest === undefined || this.compare(position, latest) > 0) return { kind: 'gap', reason: 'unknown', latest };
    const oldestKept = this.options.historyMaxAgeMs > 0 ? Date.now() - this.options.historyMaxAgeMs : 0;
    if ((watermark !== null && this.compare(position, watermark) < 0) || parsePosition(position)[0] < oldestKept) {
      return { kind: 'gap', reason: 'too-old', latest };
    }
    const entries = results[2]![1] as [string, string[]][];
    return {
      kind: 'complete',
      records: entries.map(([id, fields]) => ({ position: id, json: fields[fields.indexOf('d') + 1] as string })),
    };
  }

  async latest(topic: string): Promise<string | undefined> {
    const [entry] = (await this.command.xrevrange(this.streamKey(topic), '+', '-', 'COUNT', 1)) as [string, string[]][];
    return entry?.[0];
  }

  async subscribe(topic: string): Promise<void> {
    await this.subscriber.subscribe(this.channel(topic));
  }

  async unsubscribe(topic: string): Promise<void> {
    await this.subscriber.unsubscribe(this.channel(topic));
  }

  compare(a: string, b: string): number {
    const [am, as] = parsePosition(a);
    const [bm, bs] = parsePosition(b);
    return am !== bm ? am - bm : as - bs;
  }

  isPosition(position: string): boolean {
    return /^\d{1,15}-\d{1,15}$/.test(position);
  }

  async close(): Promise<void> {
    this.command?.disconnect();
    this.subscriber?.disconnect();
  }
}
