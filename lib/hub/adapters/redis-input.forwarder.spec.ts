import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRedis } from '../../../test/harness/redis-server.js';
import { until } from '../../../test/harness/util.js';
import type { ChannelInputRequest } from '../../core/input/input-forwarder.interface.js';
import { RedisInputForwarder } from './redis-input.forwarder.js';

type Redis = import('ioredis').Redis;

function client(url: string): Redis {
  const ioredis = createRequire(import.meta.url)('ioredis') as { default?: unknown };
  const Client = (ioredis.default ?? ioredis) as new (url: string, options: object) => Redis;
  const c = new Client(url, { maxRetriesPerRequest: 1 });
  c.on('error', () => undefined);
  return c;
}

/** The holder registration's lifetime, refresh and takeover, on a real redis-server, with a short TTL. */
describe('RedisInputForwarder', () => {
  let redis: TestRedis;
  const clients: Redis[] = [];
  const forwarders: RedisInputForwarder[] = [];
  const make = () => {
    const c = client(redis.url);
    clients.push(c);
    const f = new RedisInputForwarder(() => c, 't:', 1000, 300);
    forwarders.push(f);
    return f;
  };
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    for (const f of forwarders) await f.close();
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it('keeps a held channel registered past its TTL, forwards to it, and forgets it once released', async () => {
    const holder = make();
    const other = make();
    const seen: [string, ChannelInputRequest][] = [];
    holder.serve(
      async (channel, request) => {
        seen.push([channel, request]);
        return { duplicate: false };
      },
      () => undefined,
    );
    const admin = clients[0]!;
    await holder.held('chan-aaaaaaaaaaaaaaaa');
    const started = Date.now();
    // Three TTLs later the key is still there: refreshed every third of it.
    await until(() => Date.now() - started > 900, 2000, 'three TTLs');
    expect(await admin.get('t:ch:chan-aaaaaaaaaaaaaaaa')).toBe(holder.instanceId);
    expect(await other.forward('chan-aaaaaaaaaaaaaaaa', { id: 'm', data: 1, bytes: 20 })).toEqual({ duplicate: false });
    expect(seen).toEqual([['chan-aaaaaaaaaaaaaaaa', { id: 'm', data: 1, bytes: 20 }]]);
    holder.released('chan-aaaaaaaaaaaaaaaa');
    await until(async () => (await admin.exists('t:ch:chan-aaaaaaaaaaaaaaaa')) === 0, 2000, 'released');
    expect(await other.forward('chan-aaaaaaaaaaaaaaaa', { end: true })).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('a takeover is noticed by the previous holder, by message or, if that was missed, at its next refresh', async () => {
    const first = make();
    const second = make();
    const lost: string[] = [];
    first.serve(
      async () => ({ duplicate: false }),
      (channel) => lost.push(channel),
    );
    await first.held('chan-bbbbbbbbbbbbbbbb');
    await second.held('chan-bbbbbbbbbbbbbbbb');
    await until(() => lost.includes('chan-bbbbbbbbbbbbbbbb'), 2000, 'takeover message');
    // Missed message: another instance overwrote the key directly; the refresh finds it.
    await first.held('chan-cccccccccccccccc');
    await clients[0]!.set('t:ch:chan-cccccccccccccccc', 'someone-else', 'PX', 5000);
    await until(() => lost.includes('chan-cccccccccccccccc'), 2000, 'takeover at refresh');
    expect(await clients[0]!.get('t:ch:chan-cccccccccccccccc')).toBe('someone-else');
  });
});
