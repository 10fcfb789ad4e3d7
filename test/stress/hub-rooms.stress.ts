import { createRequire } from 'node:module';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_ADAPTER, InMemoryHubAdapter, StreamHub, type HubOptions } from '../../lib/index.js';
import { TestRedis } from '../harness/redis-server.js';
import { startStressApp, stressOptions } from './stress.fixture.js';
import { MiB, byMode, heapAfterGc, mib, pool, record } from './stress.util.js';

/**
 * 10,000 rooms × 1 publish of ~1 KB (what an unauthenticated POST per room does to the hub):
 * the hub's storage stays within the bounds README.md documents ("Hub storage bounds").
 * In memory: the heap after GC grows by at most what the byte budget counts, and never past
 * `hub.maxHistoryBytes`. On Redis: at most 2 keys per kept topic plus 2, and `used_memory` at
 * most `REDIS_TOPIC_BYTES` per kept topic (1 event of ~1 KB).
 */
const ROOMS = byMode(10_000, 10_000);
const CONCURRENCY = 64;
const TEXT = 'x'.repeat(1000);
/** README's per-topic figure on Redis for a topic holding one ~1 KB event (stream, watermark, index entry). */
const REDIS_TOPIC_BYTES = 6 * 1024;
/** Allocator and measurement noise. */
const SLACK = 2 * MiB;
const scenario = 'hub rooms';

async function publishRooms(hub: StreamHub, prefix: string): Promise<number> {
  const started = performance.now();
  await pool(ROOMS, CONCURRENCY, async (i) => {
    await hub.publish(`${prefix}:r${i}`, { from: `u${i}`, text: TEXT });
  });
  return performance.now() - started;
}

describe(`hub rooms: ${ROOMS} rooms × 1 publish`, () => {
  const apps: INestApplication[] = [];
  let redis: TestRedis;
  let admin: import('ioredis').Redis;
  const start = async (hub: HubOptions) => {
    const { app } = await startStressApp(stressOptions({ hub }));
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    redis = await TestRedis.start();
    const ioredis = createRequire(import.meta.url)('ioredis') as { default?: unknown };
    const Redis = (ioredis.default ?? ioredis) as new (url: string) => import('ioredis').Redis;
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    admin?.disconnect();
    await redis?.stop();
  });

  it.each<[string, HubOptions]>([
    ['defaults (128 MiB budget)', {}],
    ['8 MiB budget (evicting)', { maxHistoryBytes: 8 * MiB }],
  ])('in memory, %s: heap after GC within the counted bytes and the budget', async (label, options) => {
    const app = await start(options);
    // Measured once the app runs: its own startup (modules loaded, servers bound) is not hub storage.
    const before = await heapAfterGc();
    const adapter = app.get<InMemoryHubAdapter>(HUB_ADAPTER);
    const ms = await publishRooms(app.get(StreamHub), 'mem');
    const grown = (await heapAfterGc()) - before;
    const budget = options.maxHistoryBytes ?? 128 * MiB;
    const counted = adapter.historyBytes;
    const transport = `memory, ${label}`;
    const ok = [
      record({ scenario, transport, figure: `${ROOMS} publishes`, value: `${ms.toFixed(0)} ms`, limit: '-', ok: true }),
      record({ scenario, transport, figure: 'bytes counted', value: mib(counted), limit: `≤ ${mib(budget)}`, ok: counted <= budget }),
      record({
        scenario,
        transport,
        figure: 'heap growth after GC',
        value: mib(grown),
        limit: `≤ counted + ${mib(SLACK)}`,
        ok: grown <= counted + SLACK,
      }),
    ];
    expect(ok).toEqual([true, true, true]);
    await app.close();
    apps.splice(apps.indexOf(app), 1);
  });

  it.each([
    ['defaults (maxTopics 10,000)', 'r1', 10_000],
    ['maxTopics 1,000', 'r2', 1_000],
  ] as const)('on Redis, %s: keys and used_memory within the bound', async (label, keyPrefix, maxTopics) => {
    await admin.flushall();
    const memory = async () => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    const baseline = await memory();
    const app = await start({ redis: redis.url, keyPrefix: `${keyPrefix}:`, ...(maxTopics === 10_000 ? {} : { maxTopics }) });
    const ms = await publishRooms(app.get(StreamHub), 'redis');
    const keys = await admin.dbsize();
    const used = (await memory()) - baseline;
    const kept = Math.min(ROOMS, maxTopics);
    const transport = `redis, ${label}`;
    const ok = [
      record({ scenario, transport, figure: `${ROOMS} publishes`, value: `${ms.toFixed(0)} ms`, limit: '-', ok: true }),
      record({ scenario, transport, figure: 'keys', value: String(keys), limit: `≤ ${2 * kept + 2}`, ok: keys <= 2 * kept + 2 }),
      record({
        scenario,
        transport,
        figure: 'used_memory growth',
        value: mib(used),
        limit: `≤ ${mib(kept * REDIS_TOPIC_BYTES + SLACK)}`,
        ok: used <= kept * REDIS_TOPIC_BYTES + SLACK,
      }),
    ];
    expect(ok).toEqual([true, true, true]);
    await app.close();
    apps.splice(apps.indexOf(app), 1);
  });
});
