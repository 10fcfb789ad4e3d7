import { createRequire } from 'node:module';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamHub, StreamTracker, parseHubEventId, type LonglinkModuleOptions, type StreamEvent } from '../../lib/index.js';
import { conformanceModule } from '../fixtures/probe.js';
import { GrpcHarness, DEMO_PROTO } from '../harness/grpc.harness.js';
import type { ReceivedEvent, TransportHarness } from '../harness/harness.js';
import { TestRedis } from '../harness/redis-server.js';
import { TestRedisCluster } from '../harness/redis-cluster.js';
import { SseHarness } from '../harness/sse.harness.js';
import { eventually, until, within } from '../harness/util.js';
import { WsHarness } from '../harness/ws.harness.js';

/** Collects a hub stream in-process. */
function collect(hub: StreamHub, topic: string, lastEventId?: string) {
  const events: StreamEvent[] = [];
  const subscription = hub.stream(topic, { lastEventId }).subscribe((e) => events.push(e));
  return { events, subscription, data: () => events.filter((e) => e.kind === 'data').map((e) => e.data) };
}

/**
 * Resolves once the hub delivers live events on `topic`: on Redis when Redis reports the
 * channel subscribed (PUBSUB NUMSUB); in memory, subscribing involves no I/O, only promise
 * jobs, which all run before the next macrotask.
 */
async function subscribed(redis: TestRedis | TestRedisCluster | undefined, topic: string, count = 1, prefix = 'longlink:'): Promise<void> {
  if (redis instanceof TestRedisCluster) await redis.waitForSubscribers(`${prefix}{${topic}}:c`, count);
  else if (redis) await redis.waitForSubscribers(`${prefix}c:${topic}`, count);
  else await new Promise((r) => setImmediate(r));
}

async function app(options: LonglinkModuleOptions['hub']): Promise<INestApplication> {
  const { NestFactory } = await import('@nestjs/core');
  const a = await NestFactory.create(conformanceModule({ hub: options }), { logger: false, forceCloseConnections: true });
  await a.init();
  return a;
}

describe.each(['memory', 'redis', 'cluster'] as const)('StreamHub semantics (%s)', (kind) => {
  let redis: TestRedis | TestRedisCluster | undefined;
  let a: INestApplication;
  let hub: StreamHub;
  /** `hub.redis` for this kind: a URL, or a Redis Cluster's startup nodes. */
  const config = () => (redis instanceof TestRedisCluster ? { cluster: { nodes: redis.startupNodes } } : redis!.url);
  beforeAll(async () => {
    if (kind === 'redis') redis = await TestRedis.start();
    if (kind === 'cluster') redis = await TestRedisCluster.start();
    a = await app({ historySize: 5, ...(redis ? { redis: config() } : {}) });
    hub = a.get(StreamHub);
  }, 30_000);
  afterAll(async () => {
    await a.close();
    await redis?.stop();
  });

  it('publish returns increasing ids with an epoch; live subscribers get every event', async () => {
    const live = collect(hub, 'sem:live');
    await until(() => hub.activeTopics === 1, 2000, 'subscribed');
    await subscribed(redis, 'sem:live');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await hub.publish('sem:live', { i }));
    await until(() => live.events.length === 5, 2000, 'live events');
    expect(live.data()).toEqual([0, 1, 2, 3, 4].map((i) => ({ i })));
    expect(live.events.map((e) => e.id)).toEqual(ids);
    const epochs = new Set(ids.map((id) => parseHubEventId(id)!.epoch));
    expect(epochs.size).toBe(1);
    live.subscription.unsubscribe();
  });

  it('resuming inside the history delivers exactly the missed events, then live ones', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await hub.publish('sem:resume', { i }));
    const resumed = collect(hub, 'sem:resume', ids[1]);
    await until(() => resumed.events.length === 2, 2000, 'replay');
    await hub.publish('sem:resume', { i: 4 });
    await until(() => resumed.events.length === 3, 2000, 'live after replay');
    expect(resumed.data()).toEqual([{ i: 2 }, { i: 3 }, { i: 4 }]);
    resumed.subscription.unsubscribe();
  });

  it.each([
    ['too old', 'too-old'],
    ['from another epoch', 'other-epoch'],
    ['malformed', 'unknown'],
    ['in the future', 'unknown'],
  ])('an id %s gets a reset notice, then live events', async (what, reason) => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await hub.publish(`sem:reset-${reason}`, { i }));
    const { epoch, position } = parseHubEventId(ids[0]!)!;
    const last = parseHubEventId(ids[9]!)!.position;
    const future = kind === 'memory' ? String(Number(last) + 100) : `${Number(last.split('-')[0]) + 100000}-0`;
    const lastEventId = {
      'too old': ids[0],
      'from another epoch': `x${epoch}.${position}`,
      malformed: 'not-an-id',
      'in the future': `${epoch}.${future}`,
    }[what]!;
    const sub = collect(hub, `sem:reset-${reason}`, lastEventId);
    await until(() => sub.events.length === 1, 2000, 'reset');
    expect(sub.events[0]!.kind).toBe('reset');
    expect(sub.events[0]!.data).toEqual({ reason });
    expect(sub.events[0]!.id).toBe(ids[9]); // resume from here next time
    await hub.publish(`sem:reset-${reason}`, { i: 10 });
    await until(() => sub.events.length === 2, 2000, 'live after reset');
    expect(sub.events[1]!.data).toEqual({ i: 10 });
    sub.subscription.unsubscribe();
  });

  it('no gap or duplicate at the seam while publishes race the replay', async () => {
    const topic = 'sem:seam';
    let latest = await hub.publish(topic, { i: 0 });
    let n = 1;
    const total = 300;
    const publisher = (async () => {
      while (n < total) {
        latest = await hub.publish(topic, { i: n++ });
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    // Subscribers join while publishing goes on, each resuming after the newest id it knows.
    const subs: { from: number; sub: ReturnType<typeof collect> }[] = [];
    while (n < total - 20) {
      subs.push({ from: n, sub: collect(hub, topic, latest) });
      await new Promise((r) => setTimeout(r, 3));
    }
    await publisher;
    expect(subs.length).toBeGreaterThan(5);
    for (const { sub } of subs) {
      await until(() => (sub.events.at(-1)?.data as { i?: number } | undefined)?.i === total - 1, 5000, 'the last event');
      expect(sub.events.some((e) => e.kind === 'reset')).toBe(false);
      const values = sub.data().map((d) => (d as { i: number }).i);
      expect(values).toEqual(values.map((_, j) => values[0]! + j)); // contiguous, no duplicate
      sub.subscription.unsubscribe();
    }
  });

  it('one upstream per topic however many subscribers, released when the last leaves', async () => {
    // A hub of its own whose adapter counts (un)subscriptions: the upstream itself is observed.
    const { InMemoryHubAdapter, RedisHubAdapter } = await import('../../lib/index.js');
    const adapter = redis
      ? new RedisHubAdapter({ redis: config(), keyPrefix: 'refcount:', historySize: 5, historyMaxAgeMs: 0 })
      : new InMemoryHubAdapter(5, 0);
    const calls = { subscribe: 0, unsubscribe: 0 };
    const [subscribe, unsubscribe] = [adapter.subscribe.bind(adapter), adapter.unsubscribe.bind(adapter)];
    adapter.subscribe = (topic) => (calls.subscribe++, subscribe(topic));
    adapter.unsubscribe = (topic) => (calls.unsubscribe++, unsubscribe(topic));
    const own = new StreamHub(adapter);
    await own.onModuleInit();
    try {
      const subs = Array.from({ length: 20 }, () => collect(own, 'sem:refcount'));
      await until(() => own.activeTopics === 1 && calls.subscribe === 1, 2000, 'one topic');
      await subscribed(redis, 'sem:refcount', 1, 'refcount:');
      await own.publish('sem:refcount', { x: 1 });
      await until(() => subs.every((s) => s.events.length === 1), 2000, 'all got it');
      // One event object for all: serialised once.
      expect(new Set(subs.map((s) => s.events[0])).size).toBe(1);
      for (const s of subs.slice(1)) s.subscription.unsubscribe();
      await new Promise((r) => setImmediate(r));
      expect(calls).toEqual({ subscribe: 1, unsubscribe: 0 }); // still one subscriber left
      subs[0]!.subscription.unsubscribe();
      expect(own.activeTopics).toBe(0);
      await until(() => calls.unsubscribe === 1, 2000, 'upstream released');
      // Redis has the UNSUBSCRIBE once the adapter's call has gone out.
      const store = redis;
      if (store instanceof TestRedisCluster) {
        await until(async () => (await store.subscriberCount('refcount:{sem:refcount}:c')) === 0, 2000, 'Redis unsubscribed');
      } else if (store) {
        await until(async () => (await store.subscriberCount('refcount:c:sem:refcount')) === 0, 2000, 'Redis unsubscribed');
      }
      expect(calls).toEqual({ subscribe: 1, unsubscribe: 1 });
    } finally {
      await own.onApplicationShutdown();
    }
  });

  it('refuses bad topics with BAD_REQUEST', async () => {
    await expect(hub.publish('bad topic!', 1)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('a subscriber that publishes while an event reaches it: every subscriber gets both events, in publish order', async () => {
    const topic = 'sem:reentrant';
    const first: StreamEvent[] = [];
    // `first` publishes while the first event reaches it, before `second` (subscribed after it) has that event.
    const firstSub = hub.stream(topic).subscribe((e) => {
      first.push(e);
      if ((e.data as { n: number }).n === 1) void hub.publish(topic, { n: 2 });
    });
    const second = collect(hub, topic);
    await until(() => hub.activeTopics >= 1, 2000, 'subscribed');
    await subscribed(redis, topic);
    const id1 = await hub.publish(topic, { n: 1 });
    await until(() => first.length === 2 && second.events.length === 2, 2000, 'both events');
    for (const events of [first, second.events]) {
      expect(events.map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
      expect(events[0]!.id).toBe(id1);
    }
    firstSub.unsubscribe();
    second.subscription.unsubscribe();
  });

  it("publish() never delivers in its caller's stack, and subscribers read the data as it was when published", async () => {
    const topic = 'sem:snapshot';
    const live = collect(hub, topic);
    await until(() => hub.activeTopics >= 1, 2000, 'subscribed');
    await subscribed(redis, topic);
    const value = { n: 1, tags: ['a'] };
    const published = hub.publish(topic, value);
    expect(live.events).toHaveLength(0);
    value.n = 2;
    value.tags.push('b');
    await published;
    await until(() => live.events.length === 1, 2000, 'the event');
    expect(live.events[0]!.data).toEqual({ n: 1, tags: ['a'] });
    expect(live.events[0]!.json).toBe('{"n":1,"tags":["a"]}');
    live.subscription.unsubscribe();
  });
});

describe('StreamHub on Redis across instances', () => {
  let redis: TestRedis;
  const harnesses: TransportHarness[] = [];
  let publisherApp: INestApplication;
  let publisher: StreamHub;

  const options = (redisUrl: string): LonglinkModuleOptions => ({
    ws: { path: '/ws' },
    grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1' },
    hub: { redis: redisUrl, historySize: 50 },
  });

  beforeAll(async () => {
    redis = await TestRedis.start();
    publisherApp = await app({ redis: redis.url, historySize: 50 });
    publisher = publisherApp.get(StreamHub);
    for (const h of [new SseHarness('express'), new WsHarness('express'), new GrpcHarness('express')]) {
      await h.start(conformanceModule(options(redis.url)));
      harnesses.push(h);
    }
  }, 30_000);
  afterAll(async () => {
    for (const h of harnesses) await h.stop();
    await publisherApp.close();
    await redis.stop();
  });

  const chat = (h: TransportHarness, lastEventId?: string) => h.subscribe('demo/chat', { params: { room: 'x-instance' }, lastEventId });
  const messages = (events: ReceivedEvent[]) => events.filter((e) => !e.reset).map((e) => (e.data as { text: string }).text);

  it('a publish on one instance reaches subscribers on others over SSE, WS and gRPC; resume works on any instance', async () => {
    const subs = harnesses.map((h) => chat(h));
    const ids: string[] = [];
    await until(() => harnesses.every((h) => h.app.get(StreamHub).activeTopics === 1), 3000, 'subscribed everywhere');
    await subscribed(redis, 'chat:x-instance', harnesses.length);
    for (const text of ['a', 'b', 'c']) ids.push(await publisher.publish('chat:x-instance', { from: 't', text }));
    await Promise.all(subs.map((s) => s.waitForEvents(3)));
    for (const s of subs) {
      expect(messages(s.events)).toEqual(['a', 'b', 'c']);
      expect(s.events.map((e) => e.id)).toEqual(ids);
      s.cancel();
    }
    // Resume on each instance with an id made by another one.
    const resumed = harnesses.map((h) => chat(h, ids[0]));
    await Promise.all(resumed.map((s) => s.waitForEvents(2)));
    for (const s of resumed) {
      expect(messages(s.events)).toEqual(['b', 'c']);
      s.cancel();
    }
  });

  it('a too-old id gets the reset notice on every transport', async () => {
    const subs = harnesses.map((h) => h.subscribe('demo/chat', { params: { room: 'reset-room' }, lastEventId: 'nope.1-0' }));
    try {
      await Promise.all(subs.map((s) => s.waitForEvents(1)));
      for (const [i, s] of subs.entries()) {
        expect(s.events[0], harnesses[i]!.label).toMatchObject({ reset: true, data: { reason: 'other-epoch' } });
      }
    } finally {
      for (const s of subs) s.cancel();
    }
  });

  /**
   * Stalls are caught by the per-1,000 deadline (30 s) and the final one (60 s); the test's own
   * timeout is their sum plus setup, so on starved cores slow but steady progress is not cut off
   * at an arbitrary total while a stall still fails within 30 s.
   */
  const X_INSTANCE_TIMEOUT_MS = (10_000 / 1000) * 30_000 + 60_000 + 10_000;
  it(
    '2 instances x 20 subscribers x 10,000 messages: no gap, no duplicate',
    async () => {
      const [ws] = harnesses.filter((h) => h.transport === 'ws');
      const [grpc] = harnesses.filter((h) => h.transport === 'grpc');
      const subs = [...Array.from({ length: 20 }, () => chat(ws!)), ...Array.from({ length: 20 }, () => chat(grpc!))];
      await until(() => [ws!, grpc!].every((h) => h.app.get(StreamHub).activeTopics === 1), 3000, 'subscribed');
      await subscribed(redis, 'chat:x-instance', 2);
      const total = 10_000;
      try {
        for (let i = 0; i < total; i += 100) {
          await Promise.all(Array.from({ length: 100 }, (_, k) => publisher.publish('chat:x-instance', { from: 'load', text: String(i + k) })));
          // Paced by the slowest client, so the test is about gaps and duplicates, not the
          // slow-consumer policy (covered elsewhere).
          if ((i + 100) % 1000 === 0) await Promise.all(subs.map((s) => within(s.waitForEvents(i + 100), 30_000, `${i + 100} delivered`)));
        }
        await Promise.all(subs.map((s) => within(s.waitForEvents(total), 60_000, 'all messages')));
        for (const s of subs) {
          const texts = messages(s.events).map(Number);
          expect(texts.length).toBe(total);
          expect(new Set(texts).size).toBe(total);
          // Ids strictly increase: delivered in publish order.
          const positions = s.events.map((e) => parseHubEventId(e.id!)!.position.split('-').map(Number));
          for (let j = 1; j < positions.length; j++) {
            const [pm, ps] = positions[j - 1]!;
            const [m, q] = positions[j]!;
            expect(m! > pm! || (m === pm && q! > ps!)).toBe(true);
          }
        }
      } finally {
        for (const s of subs) s.cancel();
      }
      await until(() => harnesses.every((h) => h.app.get(StreamHub).activeTopics === 0), 3000, 'upstreams released');
      await until(() => harnesses.every((h) => h.app.get(StreamTracker).size === 0), 3000, 'subscriptions released');
    },
    X_INSTANCE_TIMEOUT_MS,
  );

  it('Redis killed and restarted: publish fails with UNAVAILABLE, works again within 2 s, subscribers get a reset', async () => {
    const subs = harnesses.map((h) => h.subscribe('demo/chat', { params: { room: 'restart' } }));
    await until(() => harnesses.every((h) => h.app.get(StreamHub).activeTopics === 1), 3000, 'subscribed');
    await subscribed(redis, 'chat:restart', harnesses.length);
    await publisher.publish('chat:restart', { from: 't', text: 'before' });
    await Promise.all(subs.map((s) => s.waitForEvents(1)));
    await redis.kill();
    let refused: unknown;
    const during = () => publisher.publish('chat:restart', { from: 't', text: 'during' });
    await until(
      async () =>
        (refused = await during().then(
          () => undefined,
          (e: unknown) => e,
        )) !== undefined,
      2000,
      'a publish refused',
    );
    expect(refused).toMatchObject({ code: 'UNAVAILABLE' });
    await redis.run();
    const restarted = Date.now();
    const id = await eventually(() => publisher.publish('chat:restart', { from: 't', text: 'after' }), 5000, 'a publish after the restart');
    expect(id).toBeDefined();
    expect(Date.now() - restarted).toBeLessThan(2000);
    // Every subscriber learns that history was lost, and gets the new events.
    await Promise.all(
      subs.map((s) =>
        within(
          until(() => s.events.some((e) => e.reset), 5000, 'reset'),
          6000,
          'reset',
        ),
      ),
    );
    for (const s of subs) expect(s.events.find((e) => e.reset)?.data).toEqual({ reason: 'history-lost' });
    await publisher.publish('chat:restart', { from: 't', text: 'later' });
    await Promise.all(subs.map((s) => until(() => messages(s.events).includes('later'), 5000, 'live after restart')));
    for (const s of subs) {
      expect(messages(s.events)[0]).toBe('before');
      // Published as soon as Redis was back, maybe before this instance noticed: delivered after the reset.
      expect(messages(s.events).slice(1)).toEqual(['after', 'later']);
      s.cancel();
    }
  }, 30_000);
});

describe('StreamHub on Redis: subscribes while Redis is down (SSE, WS, gRPC)', () => {
  let redis: TestRedis;
  const harnesses: TransportHarness[] = [];
  let publisherApp: INestApplication;
  let publisher: StreamHub;

  beforeAll(async () => {
    redis = await TestRedis.start();
    publisherApp = await app({ redis: redis.url, historySize: 50 });
    publisher = publisherApp.get(StreamHub);
    const options: LonglinkModuleOptions = {
      ws: { path: '/ws' },
      grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1' },
      hub: { redis: redis.url, historySize: 50 },
    };
    for (const h of [new SseHarness('express'), new WsHarness('express'), new GrpcHarness('express')]) {
      await h.start(conformanceModule(options));
      harnesses.push(h);
    }
  }, 30_000);
  afterAll(async () => {
    for (const h of harnesses) await h.stop();
    await publisherApp.close();
    await redis.stop();
  });

  const room = (h: TransportHarness, name: string) => h.subscribe('demo/chat', { params: { room: name } });

  it('every new subscribe fails fast with UNAVAILABLE; live subscribers stay; all works again within 2 s of the restart', async () => {
    const live = harnesses.map((h) => room(h, 'down-live'));
    await until(() => harnesses.every((h) => h.app.get(StreamHub).activeTopics === 1), 3000, 'subscribed');
    await subscribed(redis, 'chat:down-live', harnesses.length);
    await publisher.publish('chat:down-live', { from: 't', text: 'before' });
    await Promise.all(live.map((s) => s.waitForEvents(1)));
    await redis.kill();
    // The instances notice the loss (their Pub/Sub connection closes) at once on a local kill.
    for (const h of harnesses) {
      // A new topic, three times in a row (the second must not wait behind the first one's
      // queued UNSUBSCRIBE), and a topic this instance already streams live.
      for (const name of ['down-new', 'down-new', 'down-new', 'down-live']) {
        const started = Date.now();
        const end = await within(room(h, name).end, 3000, `${h.label} ${name} refused`);
        expect(end, `${h.label} ${name}`).toMatchObject({ kind: 'error', code: 'UNAVAILABLE' });
        expect(Date.now() - started, `${h.label} ${name}`).toBeLessThan(1500);
      }
    }
    // The subscribers that were streaming are kept.
    for (const s of live) expect(s.events.length).toBe(1);
    // A window for a wrongful end to reach the clients: an absence has no event to wait on.
    await new Promise((r) => setTimeout(r, 100));
    for (const [i, s] of live.entries()) {
      const ended = await Promise.race([s.end, Promise.resolve('open')]);
      expect(ended, harnesses[i]!.label).toBe('open');
    }

    await redis.run();
    const restarted = Date.now();
    // Publishes and new subscribes on every transport work again within 2 s.
    await eventually(() => publisher.publish('chat:down-back', { from: 't', text: 'probe' }), 5000, 'a publish after the restart');
    const publishBack = Date.now() - restarted;
    const backAt: number[] = [];
    await Promise.all(
      harnesses.map(async (h) => {
        const working = async () => {
          const sub = room(h, 'down-back');
          const ticker = setInterval(() => void publisher.publish('chat:down-back', { from: 't', text: 'tick' }).catch(() => undefined), 25);
          const outcome = await Promise.race([
            sub.waitForEvents(1).then(
              () => 'event',
              () => 'failed',
            ),
            sub.end.then(() => 'failed'),
          ]);
          clearInterval(ticker);
          sub.cancel();
          return outcome === 'event';
        };
        await until(working, 5000, `${h.label}: a working subscribe after the restart`);
        backAt.push(Date.now() - restarted);
      }),
    );
    expect(publishBack).toBeLessThan(2000);
    expect(Math.max(...backAt)).toBeLessThan(2000);
    // The live subscribers learn that history was lost, then get new events.
    await Promise.all(live.map((s) => until(() => s.events.some((e) => e.reset), 5000, 'reset')));
    await publisher.publish('chat:down-live', { from: 't', text: 'after' });
    await Promise.all(live.map((s) => until(() => s.events.some((e) => (e.data as { text?: string })?.text === 'after'), 5000, 'live again')));
    for (const s of live) s.cancel();
    await until(() => harnesses.every((h) => h.app.get(StreamHub).activeTopics === 0), 3000, 'upstreams released');
  }, 30_000);
});

describe.each(['memory', 'redis'] as const)('history age limit (%s)', (kind) => {
  it('an id older than historyMaxAgeMs gets a too-old reset', async () => {
    const { InMemoryHubAdapter, RedisHubAdapter } = await import('../../lib/index.js');
    const redis = kind === 'redis' ? await TestRedis.start() : undefined;
    const adapter = redis
      ? new RedisHubAdapter({ redis: redis.url, keyPrefix: 'age:', historySize: 100, historyMaxAgeMs: 100 })
      : new InMemoryHubAdapter(100, 100);
    const hub = new StreamHub(adapter);
    try {
      const old = await hub.publish('age:t', { i: 0 });
      const fresh = await hub.publish('age:t', { i: 1 });
      // The age limit is the behaviour under test: let the first events grow old.
      await new Promise((r) => setTimeout(r, 250));
      const latest = await hub.publish('age:t', { i: 2 });
      const tooOld = collect(hub, 'age:t', old);
      await until(() => tooOld.events.length === 1, 2000, 'reset');
      expect(tooOld.events[0]).toMatchObject({ kind: 'reset', data: { reason: 'too-old' }, id: latest });
      tooOld.subscription.unsubscribe();
      expect(fresh).not.toBe(latest);
    } finally {
      await hub.onApplicationShutdown();
      await redis?.stop();
    }
  });
});

describe('StreamHub on Redis: connection trouble', () => {
  let redis: TestRedis;
  let admin: import('ioredis').Redis;
  const hubs: StreamHub[] = [];
  const newHub = async (): Promise<StreamHub> => {
    const { RedisHubAdapter } = await import('../../lib/index.js');
    const hub = new StreamHub(new RedisHubAdapter({ redis: redis.url, keyPrefix: 'trouble:', historySize: 10_000, historyMaxAgeMs: 0 }));
    await hub.onModuleInit();
    hubs.push(hub);
    return hub;
  };

  beforeAll(async () => {
    redis = await TestRedis.start();
    // Loaded as the module loads it: ioredis 5.0.0 (the low end of the peer range) has no named `Redis`.
    const ioredis = createRequire(import.meta.url)('ioredis') as { default?: unknown };
    const Redis = (ioredis.default ?? ioredis) as new (url: string) => import('ioredis').Redis;
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    for (const hub of hubs) await hub.onApplicationShutdown();
    admin.disconnect();
    await redis.stop();
  });

  it('a subscriber whose Pub/Sub connection drops catches up: no gap, no duplicate, no reset', async () => {
    const [publisher, subscriber] = [await newHub(), await newHub()];
    const sub = collect(subscriber, 'trouble:catch-up');
    await until(() => subscriber.activeTopics === 1, 2000, 'subscribed');
    await subscribed(redis, 'trouble:catch-up', 1, 'trouble:');
    const total = 3000;
    const publishing = (async () => {
      for (let i = 0; i < total; i++) {
        await publisher.publish('trouble:catch-up', { i });
        if (i % 500 === 250) await admin.client('KILL', 'TYPE', 'PUBSUB'); // every instance's Pub/Sub connection
      }
    })();
    await publishing;
    await until(() => sub.events.length >= total, 10_000, 'all events after the reconnects');
    expect(sub.events.some((e) => e.kind === 'reset')).toBe(false);
    expect(sub.data()).toEqual(Array.from({ length: total }, (_, i) => ({ i })));
    sub.subscription.unsubscribe();
  });

  it('malformed Pub/Sub payloads are ignored: no crash, no reset, later events flow', async () => {
    const [publisher, subscriber] = [await newHub(), await newHub()];
    const sub = collect(subscriber, 'trouble:garbage');
    await until(() => subscriber.activeTopics === 1, 2000, 'subscribed');
    await subscribed(redis, 'trouble:garbage', 1, 'trouble:');
    await admin.publish('trouble:c:trouble:garbage', 'not even close');
    await admin.publish('trouble:c:trouble:garbage', 'bogus 1-0 {"fake":true}');
    const epoch = parseHubEventId(await publisher.publish('trouble:garbage', { i: 0 }))!.epoch;
    await admin.publish('trouble:c:trouble:garbage', `${epoch} 9-0 {not json`);
    await publisher.publish('trouble:garbage', { i: 1 });
    await until(() => sub.events.length >= 2, 3000, 'real events');
    expect(sub.events.map((e) => [e.kind, e.data])).toEqual([
      ['data', { i: 0 }],
      ['data', { i: 1 }],
    ]);
    sub.subscription.unsubscribe();
  });

  it('subscribing and unsubscribing in the same tick leaves no Redis subscription behind', async () => {
    // Redis' own log of the commands it ran, in order: the hub's (un)subscriptions end when it
    // has run one UNSUBSCRIBE per release, and only then is "nothing left" a final state.
    const monitor = await admin.monitor();
    const unsubscribes: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'unsubscribe') unsubscribes.push(...args.slice(1));
    });
    try {
      const hub = await newHub();
      for (let i = 0; i < 50; i++)
        hub
          .stream(`trouble:churn-${i % 5}`)
          .subscribe()
          .unsubscribe();
      const kept = collect(hub, 'trouble:kept');
      expect(hub.activeTopics).toBe(1);
      await subscribed(redis, 'trouble:kept', 1, 'trouble:');
      const churned = () => unsubscribes.filter((c) => c.startsWith('trouble:c:trouble:churn-')).length;
      await until(() => churned() === 50, 5000, 'one UNSUBSCRIBE per release');
      expect(await admin.pubsub('CHANNELS', 'trouble:c:trouble:churn-*')).toEqual([]);
      expect(await admin.pubsub('NUMSUB', 'trouble:c:trouble:kept')).toEqual(['trouble:c:trouble:kept', 1]);
      kept.subscription.unsubscribe();
    } finally {
      monitor.disconnect();
    }
  });

  it('unsubscribing and subscribing again to a topic in the same tick keeps it live', async () => {
    const [publisher, hub] = [await newHub(), await newHub()];
    const first = await publisher.publish('trouble:swap', { i: 0 });
    // A fresh topic (subscribe, unsubscribe, subscribe) and a live one (unsubscribe, subscribe).
    hub.stream('trouble:swap').subscribe().unsubscribe();
    const a = collect(hub, 'trouble:swap', first);
    await publisher.publish('trouble:swap', { i: 1 });
    // The replay after lastEventId comes once the topic's queued (un)subscriptions have run.
    await until(() => a.events.length >= 1, 3000, 'replay of the first subscriber');
    a.subscription.unsubscribe();
    const b = collect(hub, 'trouble:swap', first);
    await until(() => b.events.length >= 1, 3000, 'replay of the second subscriber');
    await publisher.publish('trouble:swap', { i: 2 });
    await until(() => b.events.length >= 2, 3000, 'a live event after the swap');
    expect(b.data()).toEqual([{ i: 1 }, { i: 2 }]);
    expect(await admin.pubsub('NUMSUB', 'trouble:c:trouble:swap')).toEqual(['trouble:c:trouble:swap', 1]);
    b.subscription.unsubscribe();
  });
});
