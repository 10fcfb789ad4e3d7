import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { ChannelInputDeliver, ChannelInputOutcome, ChannelInputRequest, InputForwarder } from '../../core/input/input-forwarder.interface.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { LONGLINK_LOGGER_CONTEXT } from '../../longlink.constants.js';
import { DEFAULT_INPUT_CHANNEL_TTL_MS } from '../../longlink.defaults.js';

/** Sets the holder unless another instance holds the channel; `0` when one does. */
const REFRESH = `
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
/** Deletes the holder key if it still names this instance. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type Wire =
  | { t: 'req'; rid: string; from: string; channel: string; request: ChannelInputRequest }
  | { t: 'res'; rid: string; outcome: ChannelInputOutcome }
  | { t: 'taken'; channel: string };

type Client = Redis & {
  longlinkChannelRefresh(key: string, id: string, ttlMs: number): Promise<number>;
  longlinkChannelRelease(key: string, id: string): Promise<number>;
};

/** `promise`, or a rejection after `ms` (the subscriber connection queues commands while Redis is down). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function outcome(code: StreamErrorCode, message: string, details?: Record<string, unknown>): ChannelInputOutcome {
  return { error: details ? { code, message, details } : { code, message } };
}

/**
 * Channel-addressed client messages across instances on one Redis (PROTOCOL.md §7.4): an
 * instance holding a channel registers `<prefix>ch:<channel>` → its instance id (expiring
 * after `ttlMs`, refreshed every third of it while held) and listens on its own Pub/Sub
 * channel `<prefix>fw:<instance id>`. A forwarder reads the holder, publishes the request there
 * with its own channel as the reply address, and waits up to `timeoutMs` for the answer.
 * Taking a channel over (`SET ... GET`) tells the previous holder, which stops delivering it.
 *
 * Connections: commands go over the hub's command connection; one more connection (a duplicate
 * of it) subscribes this instance's channel, made on first use.
 */
export class RedisInputForwarder implements InputForwarder {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  readonly instanceId = randomBytes(8).toString('hex');
  private readonly inbox: string;
  private subscriber: Redis | undefined;
  private listening: Promise<void> | undefined;
  private readonly holding = new Set<string>();
  private readonly pending = new Map<string, { resolve(o: ChannelInputOutcome): void; timer: NodeJS.Timeout }>();
  private deliverHere: ChannelInputDeliver | undefined;
  private lost: ((channel: string) => void) | undefined;
  private refresher: NodeJS.Timeout | undefined;
  private nextRid = 0;
  private closed = false;

  constructor(
    private readonly client: () => Redis,
    private readonly prefix: string,
    private readonly timeoutMs: number,
    private readonly ttlMs = DEFAULT_INPUT_CHANNEL_TTL_MS,
  ) {
    this.inbox = this.inboxOf(this.instanceId);
  }

  private key(channel: string): string {
    return `${this.prefix}ch:${channel}`;
  }

  private inboxOf(instance: string): string {
    return `${this.prefix}fw:${instance}`;
  }

  private command(): Client {
    const client = this.client() as Client;
    if (!client.longlinkChannelRefresh) {
      client.defineCommand('longlinkChannelRefresh', { numberOfKeys: 1, lua: REFRESH });
      client.defineCommand('longlinkChannelRelease', { numberOfKeys: 1, lua: RELEASE });
    }
    return client;
  }

  serve(deliver: ChannelInputDeliver, lost: (channel: string) => void): void {
    this.deliverHere = deliver;
    this.lost = lost;
  }

  /** Subscribes this instance's channel (once; ioredis resubscribes after a reconnect). */
  private listen(): Promise<void> {
    if (this.listening) return this.listening;
    const subscriber = this.client().duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true });
    subscriber.on('error', (error: Error) => this.logger.debug(`Redis input forwarder connection: ${error.message}`));
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.inbox) this.onMessage(text);
    });
    this.subscriber = subscriber;
    this.listening = subscriber.subscribe(this.inbox).then(
      () => undefined,
      (error: unknown) => {
        this.listening = undefined; // the next use tries again
        subscriber.disconnect();
        throw error;
      },
    );
    return this.listening;
  }

  async held(channel: string): Promise<void> {
    this.holding.add(channel);
    this.refresher ??= setInterval(() => void this.refresh(), Math.max(100, Math.floor(this.ttlMs / 3))).unref();
    try {
      // Bounded: the subscription opens anyway when Redis is down (the refresh registers it later).
      await within(this.listen(), this.timeoutMs);
      // Redis >= 6.2: SET ... GET names the previous holder, told to stop delivering.
      const previous = (await this.command().call('SET', this.key(channel), this.instanceId, 'PX', String(this.ttlMs), 'GET')) as string | null;
      if (previous && previous !== this.instanceId) {
        await this.command().publish(this.inboxOf(previous), JSON.stringify({ t: 'taken', channel } satisfies Wire));
      }
    } catch (error) {
      // The refresh registers it once Redis answers again; until then POSTs elsewhere get 404.
      this.logger.debug(`Input channel not registered on Redis: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  released(channel: string): void {
    this.holding.delete(channel);
    if (this.holding.size === 0 && this.refresher) {
      clearInterval(this.refresher);
      this.refresher = undefined;
    }
    try {
      this.command()
        .longlinkChannelRelease(this.key(channel), this.instanceId)
        .catch(() => undefined); // expires anyway
    } catch {
      // the adapter is closed: the key expires
    }
  }

  /** Keeps the registrations alive; a channel another instance took is dropped here. */
  private async refresh(): Promise<void> {
    this.listen().catch(() => undefined); // subscribed again if an earlier attempt failed
    const channels = [...this.holding];
    const results = await Promise.allSettled(channels.map((c) => this.command().longlinkChannelRefresh(this.key(c), this.instanceId, this.ttlMs)));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled' && r.value === 0) this.takenOver(channels[i]!);
    });
  }

  private takenOver(channel: string): void {
    if (!this.holding.delete(channel)) return;
    this.lost?.(channel);
  }

  async forward(channel: string, request: ChannelInputRequest): Promise<ChannelInputOutcome> {
    if (this.closed) return outcome(StreamErrorCode.UNAVAILABLE, 'Server is shutting down', { retryAfterMs: 1000 });
    let holder: string | null;
    try {
      await within(this.listen(), this.timeoutMs);
      holder = await this.command().get(this.key(channel));
    } catch {
      return outcome(StreamErrorCode.UNAVAILABLE, 'The store that routes client messages cannot be reached', { retryAfterMs: 1000 });
    }
    if (!holder || holder === this.instanceId) return outcome(StreamErrorCode.NOT_FOUND, 'No subscription holds this channel');
    const rid = `${this.instanceId}:${++this.nextRid}`;
    const answer = new Promise<ChannelInputOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        resolve(outcome(StreamErrorCode.UNAVAILABLE, 'The instance holding the channel did not answer in time', { retryAfterMs: 1000 }));
      }, this.timeoutMs);
      this.pending.set(rid, { resolve, timer });
    });
    const settle = (o: ChannelInputOutcome) => {
      const waiting = this.pending.get(rid);
      if (!waiting) return;
      clearTimeout(waiting.timer);
      this.pending.delete(rid);
      waiting.resolve(o);
    };
    const wire: Wire = { t: 'req', rid, from: this.inbox, channel, request };
    this.command()
      .publish(this.inboxOf(holder), JSON.stringify(wire))
      .then(
        (receivers) => {
          // Registered but not listening: killed, or its connection is down (the key expires within ttlMs).
          if (receivers === 0)
            settle(outcome(StreamErrorCode.UNAVAILABLE, 'The instance holding the channel cannot be reached', { retryAfterMs: 1000 }));
        },
        () => settle(outcome(StreamErrorCode.UNAVAILABLE, 'The store that routes client messages cannot be reached', { retryAfterMs: 1000 })),
      );
    return answer;
  }

  private onMessage(text: string): void {
    let wire: Wire;
    try {
      wire = JSON.parse(text) as Wire;
    } catch {
      return; // not ours: ignored
    }
    if (wire?.t === 'res' && typeof wire.rid === 'string') {
      const waiting = this.pending.get(wire.rid);
      if (!waiting) return; // timed out already
      clearTimeout(waiting.timer);
      this.pending.delete(wire.rid);
      waiting.resolve(wire.outcome);
    } else if (wire?.t === 'req' && typeof wire.from === 'string' && typeof wire.channel === 'string' && wire.request) {
      const deliver = this.deliverHere;
      const answered = deliver
        ? deliver(wire.channel, wire.request)
        : Promise.resolve(outcome(StreamErrorCode.NOT_FOUND, 'No subscription holds this channel'));
      void answered.then(
        (o) =>
          this.command()
            .publish(wire.from, JSON.stringify({ t: 'res', rid: wire.rid, outcome: o } satisfies Wire))
            .catch(() => undefined), // the forwarder times out
      );
    } else if (wire?.t === 'taken' && typeof wire.channel === 'string') {
      this.takenOver(wire.channel);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.refresher) clearInterval(this.refresher);
    this.refresher = undefined;
    for (const [rid, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.resolve(outcome(StreamErrorCode.UNAVAILABLE, 'Server is shutting down', { retryAfterMs: 1000 }));
      this.pending.delete(rid);
    }
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }
}
