import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamHub, type LonglinkModuleOptions, type StreamEvent } from '../../lib/index.js';
import { conformanceModule } from '../fixtures/probe.js';
import { GrpcHarness, DEMO_PROTO } from '../harness/grpc.harness.js';
import type { TransportHarness } from '../harness/harness.js';
import { TestRedis } from '../harness/redis-server.js';
import { SseHarness } from '../harness/sse.harness.js';
import { until } from '../harness/util.js';
import { WsHarness } from '../harness/ws.harness.js';

async function app(options: LonglinkModuleOptions['hub']): Promise<INestApplication> {
  const { NestFactory } = await import('@nestjs/core');
  const a = await NestFactory.create(conformanceModule({ hub: options }), { logger: false, forceCloseConnections: true });
  await a.init();
  return a;
}

function collect(hub: StreamHub, topic: string, history: number) {
  const events: StreamEvent[] = [];
  const subscription = hub.stream(topic, { history }).subscribe((e) => events.push(e));
  return { events, subscription, values: () => events.map((e) => (e.data as { i: number }).i) };
}

describe.each(['memory', 'redis'] as const)('history on join (%s)', (kind) => {
  let redis: TestRedis | undefined;
  let a: INestApplication;
  let hub: StreamHub;
  beforeAll(async () => {
    if (kind === 'redis') redis = await TestRedis.start();
    a = await app({ historySize: 20, ...(redis ? { redis: redis.url } : {}) });
    hub = a.get(StreamHub);
  });
  afterAll(async () => {
    await a.close();
    await redis?.stop();
  });

  it('replays the last n events, then live ones; history() returns the same with the same ids', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await hub.publish('h:basic', { i }));
    const sub = collect(hub, 'h:basic', 3);
    await until(() => sub.events.length === 3, 3000, 'history');
    expect(sub.values()).toEqual([5, 6, 7]);
    expect(sub.events.map((e) => e.id)).toEqual(ids.slice(5));
    await hub.publish('h:basic', { i: 8 });
    await until(() => sub.events.length === 4, 3000, 'live after history');
    expect(sub.values()).toEqual([5, 6, 7, 8]);
    sub.subscription.unsubscribe();

    const listed = await hub.history('h:basic', { limit: 2 });
    expect(listed.map((e) => e.data)).toEqual([{ i: 7 }, { i: 8 }]);
    expect(listed.map((e) => e.id)).toEqual([ids[7], sub.events[3]!.id]);
    expect((await hub.history('h:basic')).length).toBe(9);
    expect(await hub.history('h:nothing', { limit: 5 })).toEqual([]);
  });

  it('is bounded by historySize', async () => {
    for (let i = 0; i < 30; i++) await hub.publish('h:bound', { i });
    const sub = collect(hub, 'h:bound', 1000);
    await until(() => sub.events.length === 20, 3000, 'history');
    expect(sub.values()).toEqual(Array.from({ length: 20 }, (_, j) => 10 + j));
    sub.subscription.unsubscribe();
    expect((await hub.history('h:bound', { limit: 1000 })).length).toBe(20);
  });

  it('refuses a bad history or limit with BAD_REQUEST', async () => {
    expect(() => hub.stream('h:bad', { history: -1 })).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(() => hub.stream('h:bad', { history: 1.5 })).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    await expect(hub.history('h:bad', { limit: -2 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(hub.history('bad topic!')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('no gap or duplicate between history and live while publishes race the subscribe', async () => {
    const topic = 'h:race';
    const total = 400;
    let n = 0;
    const publisher = (async () => {
      while (n < total) {
        await hub.publish(topic, { i: n++ });
        if (n % 4 === 0) await new Promise((r) => setImmediate(r)); // lets subscribes in between
      }
    })();
    const subs: { published: number; sub: ReturnType<typeof collect> }[] = [];
    while (n < total - 40) {
      subs.push({ published: n, sub: collect(hub, topic, 5) });
      await new Promise((r) => setImmediate(r));
    }
    await publisher;
    expect(subs.length).toBeGreaterThan(5);
    for (const { published, sub } of subs) {
      await until(() => sub.values().at(-1) === total - 1, 5000, 'the last event');
      const values = sub.values();
      expect(values).toEqual(values.map((_, j) => values[0]! + j)); // contiguous: no gap, no duplicate
      // The history part: up to 5 events published before the subscribe.
      expect(values[0]).toBeLessThanOrEqual(Math.max(0, published - 1));
      sub.subscription.unsubscribe();
    }
  });
});

describe('history on join over SSE, WebSocket and gRPC (demo/chat, Redis)', () => {
  let redis: TestRedis;
  const harnesses: TransportHarness[] = [];
  beforeAll(async () => {
    redis = await TestRedis.start();
    for (const h of [new SseHarness('express'), new WsHarness('express'), new GrpcHarness('express')]) {
      await h.start(
        conformanceModule({
          ws: { path: '/ws' },
          grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1' },
          hub: { redis: redis.url, historySize: 50 },
        }),
      );
      harnesses.push(h);
    }
  }, 30_000);
  afterAll(async () => {
    for (const h of harnesses) await h.stop();
    await redis.stop();
  });

  it('a first subscribe with history=N gets the last N messages, then live ones', async () => {
    const hub = harnesses[0]!.app.get(StreamHub);
    for (const text of ['a', 'b', 'c', 'd']) await hub.publish('chat:hist', { from: 't', text });
    const subs = harnesses.map((h) => h.subscribe('demo/chat', { params: { room: 'hist', history: 2 } }));
    await Promise.all(subs.map((s) => s.waitForEvents(2)));
    await until(() => harnesses.every((h) => h.app.get(StreamHub).activeTopics >= 1), 3000, 'live everywhere');
    await redis.waitForSubscribers('longlink:c:chat:hist', harnesses.length);
    await hub.publish('chat:hist', { from: 't', text: 'e' });
    await Promise.all(subs.map((s) => s.waitForEvents(3)));
    for (const s of subs) {
      expect(s.events.map((e) => (e.data as { text: string }).text)).toEqual(['c', 'd', 'e']);
      s.cancel();
    }
  });
});
