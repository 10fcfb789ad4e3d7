import { createRequire } from 'node:module';
import { Module, type INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LonglinkModule } from '../../lib/index.js';
import { DuplexModule } from '../fixtures/duplex.js';
import { TestRedis } from '../harness/redis-server.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { newChannel, postInput, subscribeSse } from '../harness/sse-input.js';
import { until } from '../harness/util.js';

type Redis = import('ioredis').Redis;

function redisClient(url: string): Redis {
  const ioredis = createRequire(import.meta.url)('ioredis') as { default?: unknown };
  const Client = (ioredis.default ?? ioredis) as new (url: string, options: object) => Redis;
  const client = new Client(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return client;
}

/**
 * SSE client messages without sticky sessions (PROTOCOL.md §7.4): two instances on one real
 * redis-server; the subscription on one, the POSTs to the other.
 */
describe('two-way streams over SSE on two instances sharing Redis', () => {
  let redis: TestRedis;
  let admin: Redis;
  const apps: { app: INestApplication; baseUrl: string }[] = [];
  const start = async () => {
    @Module({
      imports: [
        LonglinkModule.forRoot({ sse: { heartbeatMs: 0, commitDelayMs: 0, inputForwardTimeoutMs: 300 }, hub: { redis: redis.url } }),
        DuplexModule,
      ],
    })
    class AppModule {}
    const started = await createHttpApp('express', AppModule);
    apps.push(started);
    return started;
  };
  beforeAll(async () => {
    redis = await TestRedis.start();
    admin = redisClient(redis.url);
  });
  afterAll(async () => {
    for (const { app } of apps) await app.close().catch(() => undefined);
    admin?.disconnect();
    await redis?.stop();
  });

  it('a POST to the other instance is forwarded to the holder: in order, acked through it, deduplicated across instances', async () => {
    const a = await start();
    const b = await start();
    const channel = newChannel();
    const sub = await subscribeSse(`${a.baseUrl}/duplex/echo?channel=${channel}`);
    try {
      expect(sub.status).toBe(200);
      // The head waits for the registration: from now on any instance finds the channel.
      expect(await admin.get(`longlink:ch:${channel}`)).toMatch(/^[0-9a-f]{16}$/);
      const answers = [];
      for (let i = 1; i <= 20; i++) {
        const target = i <= 10 ? b : a; // switch the POST target half-way
        answers.push(await postInput(`${target.baseUrl}/longlink/input/${channel}`, { id: `m${i}`, data: { i } }));
      }
      expect(answers.map((x) => x.status)).toEqual(Array(20).fill(202));
      expect(answers.map((x) => x.body)).toEqual(Array.from({ length: 20 }, (_, i) => ({ id: `m${i + 1}` })));
      // A resend through either instance is acked as a duplicate and not handed over again.
      expect(await postInput(`${b.baseUrl}/longlink/input/${channel}`, { id: 'm15', data: { i: 15 } })).toMatchObject({
        status: 202,
        body: { id: 'm15', duplicate: true },
      });
      await sub.waitFor((s) => s.data().length === 20, 'twenty events on A');
      expect(sub.data()).toEqual(Array.from({ length: 20 }, (_, i) => ({ echo: { i: i + 1 }, n: i + 1 })));

      // The client moves its subscription to B (same channel): ids acked on A stay acked (dedup on Redis).
      sub.close();
      const moved = await subscribeSse(`${b.baseUrl}/duplex/echo?channel=${channel}`);
      try {
        expect(moved.status).toBe(200);
        const resent = await postInput(`${a.baseUrl}/longlink/input/${channel}`, { id: 'm20', data: { i: 20 } });
        expect(resent).toMatchObject({ status: 202, body: { id: 'm20', duplicate: true } });
        expect(await postInput(`${a.baseUrl}/longlink/input/${channel}`, { id: 'm21', data: { i: 21 } })).toMatchObject({
          status: 202,
          body: { id: 'm21' },
        });
        expect(await postInput(`${a.baseUrl}/longlink/input/${channel}`, { end: true })).toMatchObject({ status: 202, body: { end: true } });
        await moved.waitFor((s) => s.events.some((e) => e.event === 'complete'), 'complete on B');
        expect(moved.data()).toEqual([{ echo: { i: 21 }, n: 1 }, { ended: 1 }]);
      } finally {
        moved.close();
      }
      // B's subscription ended: it released the channel, so both instances answer 404.
      await until(async () => (await admin.exists(`longlink:ch:${channel}`)) === 0, 5000, 'registration released');
      for (const target of [a, b]) {
        expect(await postInput(`${target.baseUrl}/longlink/input/${channel}`, { id: 'late', data: 1 })).toMatchObject({
          status: 404,
          body: { code: 'NOT_FOUND' },
        });
      }
    } finally {
      sub.close();
    }
  });

  it('a newer subscription on another instance takes the channel over; the older one keeps its output but gets no more messages', async () => {
    const [a, b] = apps;
    const channel = newChannel();
    const older = await subscribeSse(`${a!.baseUrl}/duplex/echo?channel=${channel}`);
    const newer = await subscribeSse(`${b!.baseUrl}/duplex/echo?channel=${channel}`);
    try {
      expect([older.status, newer.status]).toEqual([200, 200]);
      // Posted to A, the instance of the older one: once A has heard of the takeover (Pub/Sub,
      // right after the newer one opened), it forwards to B.
      let probes = 0;
      await until(
        async () => {
          await postInput(`${a!.baseUrl}/longlink/input/${channel}`, { id: `probe${++probes}`, data: 0 });
          return newer.data().length > 0;
        },
        5000,
        'A forwards to B',
      );
      const olderSeen = older.data().length;
      expect(await postInput(`${a!.baseUrl}/longlink/input/${channel}`, { id: 'x', data: 'x' })).toMatchObject({ status: 202, body: { id: 'x' } });
      await newer.waitFor((s) => s.data().length === 2, 'both on B');
      expect(newer.data()).toEqual([
        { echo: 0, n: 1 },
        { echo: 'x', n: 2 },
      ]);
      expect(older.data().length).toBe(olderSeen);
      expect(older.ended).toBe(false);
    } finally {
      older.close();
      newer.close();
    }
  });

  it('refusals from the holder come back through the forwarder with their status', async () => {
    const [a, b] = apps;
    const channel = newChannel();
    const sub = await subscribeSse(`${a!.baseUrl}/duplex/validated?channel=${channel}`);
    try {
      const refused = await postInput(`${b!.baseUrl}/longlink/input/${channel}`, { id: '1', data: { text: '' } });
      expect(refused).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST' } });
      expect(String(refused.body.message)).toMatch(/text should not be empty/);
      expect(await postInput(`${b!.baseUrl}/longlink/input/${channel}`, { id: '2', data: { text: 'x'.repeat(70_000) } })).toMatchObject({
        status: 413,
      });
      expect(await postInput(`${b!.baseUrl}/longlink/input/${channel}`, { id: '3', data: { text: 'ok' } })).toMatchObject({ status: 202 });
      await sub.waitFor((s) => s.data().length === 1, 'the valid message');
    } finally {
      sub.close();
    }
  });

  it('unknown channel: 404; a holder that is gone: 503 until its registration expires; a holder that does not answer: 503 after inputForwardTimeoutMs', async () => {
    const [, b] = apps;
    const post = (channel: string) => postInput(`${b!.baseUrl}/longlink/input/${channel}`, { id: '1', data: 1 });
    expect(await post(newChannel())).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });

    // Registered by an instance that no longer listens (killed with kill -9: its key outlives it).
    const orphan = newChannel();
    await admin.set(`longlink:ch:${orphan}`, 'deadbeefdeadbeef', 'PX', 60_000);
    const gone = await post(orphan);
    expect(gone).toMatchObject({ status: 503, body: { code: 'UNAVAILABLE' } });
    expect(gone.headers.get('retry-after')).toBe('1');

    // A holder that listens but never answers.
    const mute = redisClient(redis.url);
    try {
      await mute.subscribe('longlink:fw:0123456789abcdef');
      const stuck = newChannel();
      await admin.set(`longlink:ch:${stuck}`, '0123456789abcdef', 'PX', 60_000);
      const started = Date.now();
      const late = await post(stuck);
      expect(late).toMatchObject({ status: 503, body: { code: 'UNAVAILABLE' } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      mute.disconnect();
    }
  });

  it('a holder that shuts down releases its channels: 404 from the other instance', async () => {
    const c = await start();
    const [, b] = apps;
    const channel = newChannel();
    const sub = await subscribeSse(`${c.baseUrl}/duplex/echo?channel=${channel}`);
    expect(await postInput(`${b!.baseUrl}/longlink/input/${channel}`, { id: '1', data: 1 })).toMatchObject({ status: 202 });
    await c.app.close();
    apps.splice(apps.indexOf(c), 1);
    sub.close();
    await until(async () => (await admin.exists(`longlink:ch:${channel}`)) === 0, 5000, 'released at shutdown');
    expect(await postInput(`${b!.baseUrl}/longlink/input/${channel}`, { id: '2', data: 1 })).toMatchObject({ status: 404 });
  });

  it('with Redis down, a subscription still opens (within inputForwardTimeoutMs) and POSTs elsewhere get 503, not a hang', async () => {
    const d = await start(); // never held a channel: its forwarder connects on first use
    const [, b] = apps;
    await redis.kill();
    const channel = newChannel();
    const started = Date.now();
    const sub = await subscribeSse(`${d.baseUrl}/duplex/echo?channel=${channel}`);
    try {
      expect(sub.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(3000);
      const answer = await postInput(`${b!.baseUrl}/longlink/input/${channel}`, { id: '1', data: 1 });
      expect(answer).toMatchObject({ status: 503, body: { code: 'UNAVAILABLE' } });
    } finally {
      sub.close();
    }
  });
});
