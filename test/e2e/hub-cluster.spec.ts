import { createRequire } from 'node:module';
import { Logger, type INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisHubAdapter, StreamHub, type LonglinkModuleOptions } from '../../lib/index.js';
import { conformanceModule } from '../fixtures/probe.js';
import { GrpcHarness, DEMO_PROTO } from '../harness/grpc.harness.js';
import type { ReceivedEvent, TransportHarness } from '../harness/harness.js';
import { TestRedisCluster, type ClusterNode } from '../harness/redis-cluster.js';
import { SseHarness } from '../harness/sse.harness.js';
import { eventually, until } from '../harness/util.js';
import { WsHarness } from '../harness/ws.harness.js';

/**
 * The hub on a real Redis Cluster (3 masters + 3 replicas): delivery across instances over SSE,
 * WebSocket and gRPC with sharded Pub/Sub on the owning shard only, the topics index on its own
 * slot, and `redisWaitReplicas`. Failover: hub-cluster-failover.spec.ts.
 */
describe('Redis Cluster options', () => {
  it('are validated at startup, naming the option', async () => {
    const { resolveLonglinkOptions } = await import('../../lib/core/longlink-options.js');
    const cluster = { cluster: { nodes: ['127.0.0.1:7000'] } };
    expect(resolveLonglinkOptions({ hub: { redis: cluster } }).hub).toMatchObject({ redis: cluster, redisWaitReplicas: 0, redisWaitTimeoutMs: 1000 });
    expect(() => resolveLonglinkOptions({ hub: { redis: { cluster: { nodes: [] } } } })).toThrow(/hub\.redis\.cluster/);
    expect(() => resolveLonglinkOptions({ hub: { redis: { cluster: 'x' } as never } })).toThrow(/hub\.redis\.cluster/);
    expect(() => resolveLonglinkOptions({ hub: { redis: cluster, keyPrefix: 'app{1}:' } })).toThrow(/hub\.keyPrefix/);
    expect(() => resolveLonglinkOptions({ hub: { redisWaitReplicas: -1 } })).toThrow(/hub\.redisWaitReplicas/);
    expect(() => resolveLonglinkOptions({ hub: { redisWaitTimeoutMs: 0 } })).toThrow(/hub\.redisWaitTimeoutMs/);
  });
});

describe('StreamHub on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  const harnesses: TransportHarness[] = [];
  let publisherApp: INestApplication;
  let publisher: StreamHub;
  const hubs: StreamHub[] = [];
  const redis = () => ({ cluster: { nodes: cluster.startupNodes } });

  /** A hub of its own on the cluster (closed after the suite). */
  const ownHub = async (options: Partial<ConstructorParameters<typeof RedisHubAdapter>[0]> = {}): Promise<StreamHub> => {
    const hub = new StreamHub(new RedisHubAdapter({ redis: redis(), keyPrefix: 'own:', historySize: 50, historyMaxAgeMs: 0, ...options }));
    await hub.onModuleInit();
    hubs.push(hub);
    return hub;
  };

  beforeAll(async () => {
    cluster = await TestRedisCluster.start();
    const { NestFactory } = await import('@nestjs/core');
    publisherApp = await NestFactory.create(conformanceModule({ hub: { redis: redis(), historySize: 50 } }), { logger: false });
    await publisherApp.init();
    publisher = publisherApp.get(StreamHub);
    const options: LonglinkModuleOptions = {
      ws: { path: '/ws' },
      grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1' },
      hub: { redis: redis(), historySize: 50 },
    };
    for (const h of [new SseHarness('express'), new WsHarness('express'), new GrpcHarness('express')]) {
      await h.start(conformanceModule(options));
      harnesses.push(h);
    }
  }, 60_000);
  afterAll(async () => {
    for (const h of harnesses) await h.stop();
    for (const hub of hubs) await hub.onApplicationShutdown();
    await publisherApp?.close();
    await cluster?.stop();
  });

  const messages = (events: ReceivedEvent[]) => events.filter((e) => !e.reset).map((e) => (e.data as { text: string }).text);

  /** Connections on `node` subscribed to shard channels (`ssub=` of CLIENT LIST). */
  const shardSubscribers = async (node: ClusterNode) =>
    ((await cluster.admin(node).client('LIST')) as string).split('\n').filter((line) => /\bssub=[1-9]/.test(line)).length;

  it('a publish on one instance reaches subscribers on others over SSE, WS and gRPC; they subscribe on the owning shard only', async () => {
    const topic = 'chat:sharded';
    const channel = `longlink:{${topic}}:c`;
    const subs = harnesses.map((h) => h.subscribe('demo/chat', { params: { room: 'sharded' } }));
    await until(() => harnesses.every((h) => h.app.get(StreamHub).activeTopics === 1), 5000, 'subscribed everywhere');
    await cluster.waitForSubscribers(channel, harnesses.length);
    const owner = await cluster.masterOf(channel);
    const masters = await Promise.all(cluster.nodes.map(async (n) => ((await cluster.admin(n).role()) as string[])[0] === 'master'));
    // Sharded unless the installed ioredis cannot (test:lowest's 5.0.0: classic, tested below).
    const ioredis = createRequire(import.meta.url)('ioredis') as { Command: { checkFlag(flag: string, name: string): boolean } };
    const sharded = ioredis.Command.checkFlag('ENTER_SUBSCRIBER_MODE', 'ssubscribe');
    for (const [i, node] of cluster.nodes.entries()) {
      if (!masters[i] || !sharded) continue;
      // One sharded connection per instance on the owner, none elsewhere, no classic subscription.
      expect(await shardSubscribers(node), node.address).toBe(node === owner ? harnesses.length : 0);
      expect(await cluster.admin(node).pubsub('NUMSUB', channel)).toEqual([channel, 0]);
    }
    const ids: string[] = [];
    for (const text of ['a', 'b', 'c']) ids.push(await publisher.publish(topic, { from: 't', text }));
    await Promise.all(subs.map((s) => s.waitForEvents(3)));
    for (const s of subs) {
      expect(messages(s.events)).toEqual(['a', 'b', 'c']);
      expect(s.events.map((e) => e.id)).toEqual(ids);
      s.cancel();
    }
    // The last topic on that shard gone: the connections to it close.
    if (sharded) await until(async () => (await shardSubscribers(owner)) === 0, 3000, 'shard connections closed');
    // Resume on each instance with an id made by another one.
    const resumed = harnesses.map((h) => h.subscribe('demo/chat', { params: { room: 'sharded' }, lastEventId: ids[0] }));
    await Promise.all(resumed.map((s) => s.waitForEvents(2)));
    for (const s of resumed) {
      expect(messages(s.events)).toEqual(['b', 'c']);
      s.cancel();
    }
  });

  it('an id of another epoch gets the reset notice on every transport', async () => {
    const subs = harnesses.map((h) => h.subscribe('demo/chat', { params: { room: 'reset-room' }, lastEventId: 'nope.1-0' }));
    try {
      await Promise.all(subs.map((s) => s.waitForEvents(1)));
      for (const [i, s] of subs.entries()) expect(s.events[0], harnesses[i]!.label).toMatchObject({ reset: true, data: { reason: 'other-epoch' } });
    } finally {
      for (const s of subs) s.cancel();
    }
  });

  it('a shard subscriber connection killed under load: the instance catches up, no gap, no duplicate, no reset', async () => {
    // A history that holds whatever is published while the connection is down (the catch-up reads it).
    const [pub, sub] = [await ownHub({ keyPrefix: 'kill:', historySize: 10_000 }), await ownHub({ keyPrefix: 'kill:', historySize: 10_000 })];

    const events: { kind: string; data: unknown }[] = [];
    const subscription = sub.stream('kill:t').subscribe((e) => events.push(e));
    const changes: boolean[] = [];
    sub.onConnectionChange((connected) => changes.push(connected));
    await cluster.waitForSubscribers('kill:{kill:t}:c', 1);
    const total = 2000;
    for (let i = 0; i < total; i++) {
      await pub.publish('kill:t', { i });
      // Every Pub/Sub connection of every node: the shard connection (or the classic one) goes.
      if (i % 500 === 250) for (const node of cluster.nodes) await cluster.admin(node).client('KILL', 'TYPE', 'PUBSUB');
    }
    await until(() => events.length >= total, 10_000, 'every event after the reconnects');
    expect(events.some((e) => e.kind === 'reset')).toBe(false);
    expect(events.map((e) => e.data)).toEqual(Array.from({ length: total }, (_, i) => ({ i })));
    // Live delivery did go down and come back (the catch-up path ran), ending connected.
    expect(changes.filter((c) => !c).length).toBeGreaterThanOrEqual(1);
    await until(() => sub.connected, 3000, 'connected again');
    subscription.unsubscribe();
  });

  it('maxTopics: the topics index (its own slot) forgets the least recently published topic; a resume from it gets a reset', async () => {
    const hub = await ownHub({ keyPrefix: 'idx:', maxTopics: 2, topicTtlMs: 60_000 });
    const first = await hub.publish('idx:one', { i: 1 });
    await hub.publish('idx:two', { i: 2 });
    await hub.publish('idx:three', { i: 3 });
    const admin = async (key: string) => cluster.admin(await cluster.masterOf(key));
    // The index is updated after each publish, and the forgotten topic's keys deleted in its own slot.
    await until(async () => (await (await admin('idx:{idx:one}:t')).exists(['idx:{idx:one}:t'])) === 0, 3000, 'idx:one forgotten');
    expect(await (await admin('idx:topics')).zrange('idx:topics', '0', '-1')).toEqual(['idx:two', 'idx:three']);
    // topicTtlMs on the topic's keys and on the index.
    expect(await (await admin('idx:{idx:three}:t')).pttl('idx:{idx:three}:t')).toBeGreaterThan(50_000);
    expect(await (await admin('idx:topics')).pttl('idx:topics')).toBeGreaterThan(50_000);
    const events: unknown[] = [];
    const sub = hub.stream('idx:one', { lastEventId: first }).subscribe((e) => events.push(e));
    await until(() => events.length === 1, 3000, 'reset');
    expect(events[0]).toMatchObject({ kind: 'reset', data: { reason: 'unknown' } });
    sub.unsubscribe();
  });

  it('an ioredis without sharded Pub/Sub falls back to classic Pub/Sub on the cluster, with a warning', async () => {
    const ioredis = createRequire(import.meta.url)('ioredis') as { Command: { checkFlag: (this: unknown, flag: string, name: string) => boolean } };
    const checkFlag = ioredis.Command.checkFlag;
    const warnings: string[] = [];
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    // As ioredis < 5.3.0 answers: ssubscribe does not enter subscriber mode.
    ioredis.Command.checkFlag = (flag, name) => (name === 'ssubscribe' ? false : checkFlag.call(ioredis.Command, flag, name));
    let classic: StreamHub;
    try {
      classic = await ownHub({ keyPrefix: 'classic:' });
    } finally {
      ioredis.Command.checkFlag = checkFlag;
      warn.mockRestore();
    }
    expect(warnings.join('\n')).toMatch(/classic Pub\/Sub/);
    const events: unknown[] = [];
    const sub = classic.stream('classic:t').subscribe((e) => events.push(e));
    const channel = 'classic:{classic:t}:c';
    await cluster.waitForSubscribers(channel, 1);
    expect(await cluster.shardSubscriberCount(channel)).toBe(0);
    await classic.publish('classic:t', { i: 1 });
    await until(() => events.length === 1, 3000, 'delivered over classic Pub/Sub');
    expect(events[0]).toMatchObject({ data: { i: 1 } });
    sub.unsubscribe();
  });

  it('redisWaitReplicas: a publish waits for a replica; with the replica hung it fails with UNAVAILABLE, then works again', async () => {
    const hub = await ownHub({ keyPrefix: 'wait:', redisWaitReplicas: 1, redisWaitTimeoutMs: 300 });
    const id = await hub.publish('wait:t', { i: 1 });
    expect(id).toMatch(/^[0-9a-f]+\.\d+-\d+$/);
    const replica = await cluster.replicaOf(await cluster.masterOf('wait:{wait:t}:t'));
    replica.pause(true);
    try {
      const started = Date.now();
      await expect(hub.publish('wait:t', { i: 2 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(1500);
    } finally {
      replica.pause(false);
    }
    // Stored on the master all the same (the outcome of an unconfirmed publish is "stored, maybe not durable").
    expect((await hub.history('wait:t')).map((e) => e.data)).toEqual([{ i: 1 }, { i: 2 }]);
    await eventually(() => hub.publish('wait:t', { i: 3 }), 5000, 'a confirmed publish once the replica is back');
  });
});
