import type { Cluster, Redis } from 'ioredis';
import { keySlot } from './redis-keys.js';
import { subscribeOnce, type RedisSubscriber, type RedisSubscriberEvents } from './redis-subscriber.interface.js';

/** How long a new shard connection may take before a subscribe fails. */
const CONNECT_WAIT_MS = 2000;

/** A subscriber connection to one master. */
interface Shard {
  node: string;
  client: Redis;
  /** Channels subscribed (or being subscribed) on it. */
  channels: Set<string>;
  /** Closed on purpose (no topic left on it, or replaced): its 'close' means nothing. */
  retired: boolean;
}

/**
 * Pub/Sub on a Redis Cluster. Sharded (Redis >= 7): one connection per master that owns the
 * slot of a live topic's channel, opened on the first such topic and closed with the last one,
 * with `SSUBSCRIBE`. Classic (older Redis, or an ioredis without `ssubscribe`): one connection to
 * any master with `SUBSCRIBE` (the cluster bus brings every node's publishes to it).
 *
 * Any subscribed connection lost (a master killed, a slot moved away: Redis answers with an
 * unsolicited `sunsubscribe`) stops live delivery for the whole instance: `disconnected()`, then
 * the slot map is refreshed, every wanted channel is subscribed on its owner again, and only then
 * `reconnected()` (the hub catches up from history). Subscribes fail fast meanwhile.
 */
export class RedisShardSubscribers implements RedisSubscriber {
  private readonly wanted = new Set<string>();
  private readonly shards = new Map<string, Shard>();
  private live = false;
  private closed = false;
  /** Incremented at each loss: a recovery that saw one during its run goes round again. */
  private losses = 0;
  private recovering: Promise<void> | undefined;
  private readonly waiting = new Set<() => void>();
  /** The classic mode's node. */
  private classicNode: string | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly connect: (host: string, port: number) => Redis,
    /** `SSUBSCRIBE` (true) or `SUBSCRIBE`; read at each (re)subscription. */
    private readonly sharded: () => boolean,
    private readonly events: RedisSubscriberEvents,
    /** Runs before a recovery subscribes again (e.g. to learn the server's version). */
    private readonly beforeRecovery: () => Promise<void>,
  ) {
    cluster.on('ready', () => this.recover());
    // Every node lost (the cluster client reconnects): down too, with or without live topics.
    cluster.on('close', () => this.down());
    if (cluster.status === 'ready') this.recover();
  }

  ready(): Promise<void> {
    return this.live ? Promise.resolve() : new Promise<void>((resolve) => this.waiting.add(resolve));
  }

  async subscribe(channel: string): Promise<void> {
    // While disconnected, fail at once rather than wait for the recovery.
    if (!this.live) throw new Error('Redis Cluster is not connected');
    this.wanted.add(channel);
    for (;;) {
      const node = this.owner(channel);
      if (!node) throw new Error('Redis Cluster: no node serves this topic now');
      const shard = await this.shard(node);
      if (shard.retired) continue; // closed while connecting: open another
      shard.channels.add(channel);
      await subscribeOnce(shard.client, () => this.command(shard.client, 'subscribe', channel));
      return;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    this.wanted.delete(channel);
    for (const shard of [...this.shards.values()]) {
      if (!shard.channels.delete(channel)) continue;
      // Never waits for a connection that is down: the recovery drops what is no longer wanted.
      if (shard.client.status === 'ready') await this.command(shard.client, 'unsubscribe', channel).catch(() => undefined);
      if (shard.channels.size === 0) this.retire(shard);
    }
  }

  close(): void {
    this.closed = true;
    for (const shard of [...this.shards.values()]) this.retire(shard);
  }

  private command(client: Redis, op: 'subscribe' | 'unsubscribe', channel: string): Promise<unknown> {
    if (!this.sharded()) return op === 'subscribe' ? client.subscribe(channel) : client.unsubscribe(channel);
    const sharded = client as Redis & { ssubscribe(c: string): Promise<unknown>; sunsubscribe(c: string): Promise<unknown> };
    return op === 'subscribe' ? sharded.ssubscribe(channel) : sharded.sunsubscribe(channel);
  }

  /** The node (`host:port`) whose connection carries `channel`. */
  private owner(channel: string): string | undefined {
    if (this.sharded()) return this.cluster.slots[keySlot(channel)]?.[0];
    if (!this.classicNode) {
      const masters = this.cluster.nodes('master');
      const node = masters[this.losses % Math.max(1, masters.length)];
      this.classicNode = node ? `${node.options.host}:${node.options.port}` : undefined;
    }
    return this.classicNode;
  }

  /** The connection to `node`, opened (and ready) if need be. */
  private async shard(node: string): Promise<Shard> {
    let shard = this.shards.get(node);
    if (!shard) {
      const colon = node.lastIndexOf(':');
      const client = this.connect(node.slice(0, colon), Number(node.slice(colon + 1)));
      const created: Shard = { node, client, channels: new Set(), retired: false };
      shard = created;
      this.shards.set(node, created);
      const message = (channel: string, payload: string) => this.events.message(channel, payload);
      client.on('smessage', message);
      client.on('message', message);
      client.on('error', () => undefined); // reported through 'close'
      client.on('close', () => this.lost(created));
      client.on('moved', () => this.lost(created)); // the slot moved away (unsolicited sunsubscribe)
    }
    if (shard.client.status !== 'ready') await this.whenReady(shard);
    return shard;
  }

  private whenReady(shard: Shard): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        shard.client.off('ready', ok);
        shard.client.off('close', failed);
        if (error) reject(error);
        else resolve();
      };
      const ok = () => done();
      const failed = () => done(new Error(`Redis Cluster node ${shard.node} is not reachable`));
      const timer = setTimeout(() => {
        this.lost(shard);
        failed();
      }, CONNECT_WAIT_MS);
      shard.client.once('ready', ok);
      shard.client.once('close', failed);
    });
  }

  private retire(shard: Shard): void {
    shard.retired = true;
    if (this.shards.get(shard.node) === shard) this.shards.delete(shard.node);
    shard.client.disconnect();
  }

  /** A connection is gone: if it carried channels, live delivery is down until the recovery. */
  private lost(shard: Shard): void {
    if (shard.retired) return;
    const carried = shard.channels.size > 0;
    this.retire(shard);
    if (this.classicNode === shard.node) this.classicNode = undefined;
    if (!carried) return;
    this.down();
    this.recover();
  }

  private down(): void {
    this.losses++;
    if (!this.live) return;
    this.live = false;
    this.events.disconnected();
  }

  private recover(): void {
    if (this.recovering || this.closed) return;
    this.recovering = this.runRecovery().finally(() => (this.recovering = undefined));
  }

  private async runRecovery(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 500)).unref());
      if (this.closed || this.cluster.status !== 'ready') continue;
      const losses = this.losses;
      try {
        if (attempt > 0 || losses > 0) await new Promise<void>((resolve) => this.cluster.refreshSlotsCache(() => resolve()));
        await this.beforeRecovery();
        await this.subscribeAll();
      } catch {
        continue; // a node still down or a slot not yet moved: next attempt
      }
      if (this.closed || losses !== this.losses) continue;
      if (!this.live) {
        this.live = true;
        for (const resolve of [...this.waiting]) resolve();
        this.waiting.clear();
        this.events.reconnected();
      }
      return;
    }
  }

  /** Every wanted channel subscribed on the connection to its owner; connections no longer needed closed. */
  private async subscribeAll(): Promise<void> {
    const byNode = new Map<string, string[]>();
    for (const channel of this.wanted) {
      const node = this.owner(channel);
      if (!node) throw new Error('a slot without a node');
      byNode.set(node, [...(byNode.get(node) ?? []), channel]);
    }
    for (const shard of [...this.shards.values()]) {
      const keep = byNode.get(shard.node);
      if (!keep) this.retire(shard);
      else for (const channel of shard.channels) if (!keep.includes(channel)) shard.channels.delete(channel);
    }
    await Promise.all(
      [...byNode].map(async ([node, channels]) => {
        const shard = await this.shard(node);
        for (const channel of channels) {
          if (shard.channels.has(channel)) continue;
          shard.channels.add(channel);
          await subscribeOnce(shard.client, () => this.command(shard.client, 'subscribe', channel));
        }
      }),
    );
  }
}
