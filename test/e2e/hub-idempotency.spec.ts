import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamHub, type LonglinkModuleOptions, type StreamEvent } from '../../lib/index.js';
import { conformanceModule } from '../fixtures/probe.js';
import { TestRedis } from '../harness/redis-server.js';
import { until } from '../harness/util.js';

async function app(options: LonglinkModuleOptions): Promise<INestApplication> {
  const a = await NestFactory.create(conformanceModule(options), { logger: false, forceCloseConnections: true });
  await a.init();
  return a;
}

/** `hub.publish(topic, data, { idempotencyKey })` (PROTOCOL.md §7.1), on both adapters. */
describe.each(['memory', 'redis'] as const)('idempotent publish (%s)', (kind) => {
  let redis: TestRedis | undefined;
  let a: INestApplication;
  let hub: StreamHub;
  beforeAll(async () => {
    if (kind === 'redis') redis = await TestRedis.start();
    a = await app({ hub: redis ? { redis: redis.url } : {}, input: { dedupWindowMs: 60_000 } });
    hub = a.get(StreamHub);
  });
  afterAll(async () => {
    await a?.close();
    await redis?.stop();
  });

  it('a repeated key stores and delivers once and resolves with the first event id; keys are per topic', async () => {
    const first = await hub.publish('idem:a', { n: 1 }, { idempotencyKey: 'msg-1' });
    const again = await hub.publish('idem:a', { n: 2 }, { idempotencyKey: 'msg-1' });
    expect(again).toBe(first);
    const other = await hub.publish('idem:a', { n: 3 }, { idempotencyKey: 'msg-2' });
    const plain = await hub.publish('idem:a', { n: 4 });
    const otherTopic = await hub.publish('idem:b', { n: 5 }, { idempotencyKey: 'msg-1' });
    expect(new Set([first, other, plain]).size).toBe(3);
    expect(otherTopic).not.toBe(first);
    const history = await hub.history('idem:a');
    expect(history.map((e: StreamEvent) => e.data)).toEqual([{ n: 1 }, { n: 3 }, { n: 4 }]);
    expect(history.map((e) => e.id)).toEqual([first, other, plain]);
    expect((await hub.history('idem:b')).map((e) => e.data)).toEqual([{ n: 5 }]);
  });

  it('concurrent publishes with one key: exactly one is stored and every one resolves with its id', async () => {
    const ids = await Promise.all(Array.from({ length: 25 }, (_, i) => hub.publish('idem:race', { i }, { idempotencyKey: 'same' })));
    expect(new Set(ids).size).toBe(1);
    const history = await hub.history('idem:race');
    expect(history).toHaveLength(1);
    expect(history[0]!.id).toBe(ids[0]);
  });

  it('a duplicate is not delivered to live subscribers', async () => {
    const events: StreamEvent[] = [];
    const sub = hub.stream('idem:live').subscribe((e) => events.push(e));
    try {
      // Live in the store (not only counted by the hub): a probe published now is delivered.
      await until(
        async () => {
          await hub.publish('idem:live', 'probe');
          return events.some((e) => e.data === 'probe');
        },
        5000,
        'topic live',
      );
      await hub.publish('idem:live', 'x', { idempotencyKey: 'k' });
      await hub.publish('idem:live', 'x', { idempotencyKey: 'k' });
      await hub.publish('idem:live', 'end');
      await until(() => events.some((e) => e.data === 'end'), 2000, 'end event');
      expect(events.map((e) => e.data).filter((d) => d !== 'probe')).toEqual(['x', 'end']);
    } finally {
      sub.unsubscribe();
    }
  });

  it('refuses a malformed key with BAD_REQUEST', async () => {
    for (const key of ['', 'has space', 'x'.repeat(513), 'é']) {
      await expect(hub.publish('idem:bad', 1, { idempotencyKey: key })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    }
    expect(await hub.history('idem:bad')).toEqual([]);
  });

  it('a key is remembered for input.dedupWindowMs, then publishes again', async () => {
    const short = await app({ hub: redis ? { redis: redis.url, keyPrefix: 'short:' } : {}, input: { dedupWindowMs: 150 } });
    try {
      const h = short.get(StreamHub);
      const first = await h.publish('idem:window', 1, { idempotencyKey: 'w' });
      expect(await h.publish('idem:window', 2, { idempotencyKey: 'w' })).toBe(first);
      let latest = first;
      await until(async () => (latest = await h.publish('idem:window', 3, { idempotencyKey: 'w' })) !== first, 3000, 'key expired');
      expect((await h.history('idem:window')).map((e) => e.data)).toEqual([1, 3]);
      expect((await h.history('idem:window')).at(-1)!.id).toBe(latest);
    } finally {
      await short.close();
    }
  });
});
