import { createRequire } from 'node:module';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamHub, type LonglinkModuleOptions, type PresenceEvent, type PresenceMember, type StreamEvent } from '../../lib/index.js';
import { conformanceModule } from '../fixtures/probe.js';
import { TestRedis } from '../harness/redis-server.js';
import { TestRedisCluster } from '../harness/redis-cluster.js';
import { until } from '../harness/util.js';

async function app(options: LonglinkModuleOptions['hub']): Promise<INestApplication> {
  const { NestFactory } = await import('@nestjs/core');
  const a = await NestFactory.create(conformanceModule({ hub: options }), { logger: false, forceCloseConnections: true });
  await a.init();
  return a;
}

/** A client's view of a presence stream: applies state and diffs by ref (PROTOCOL.md §6.5). */
function watch(hub: StreamHub, topic: string, lastEventId?: string) {
  const events: StreamEvent<PresenceEvent>[] = [];
  const refs = new Map<string, { key: string; meta: unknown }>();
  const subscription = hub.presenceStream(topic, { lastEventId }).subscribe((e) => {
    events.push(e);
    if (e.kind !== 'data') return;
    const d = e.data;
    if (d.type === 'state') {
      refs.clear();
      for (const m of d.members) for (const x of m.metas) refs.set(x.ref, { key: m.key, meta: x.meta });
    } else {
      for (const m of d.leaves) for (const x of m.metas) refs.delete(x.ref);
      for (const m of d.joins) for (const x of m.metas) refs.set(x.ref, { key: m.key, meta: x.meta });
    }
  });
  const keys = () => [...new Set([...refs.values()].map((v) => v.key))].sort();
  const diffs = () => events.filter((e) => e.kind === 'data' && e.data.type === 'diff').map((e) => e.data);
  return { events, refs, keys, diffs, subscription };
}

function redisClient(url: string): import('ioredis').Redis {
  const ioredis = createRequire(import.meta.url)('ioredis') as { default?: unknown };
  const Redis = (ioredis.default ?? ioredis) as new (url: string) => import('ioredis').Redis;
  return new Redis(url);
}

describe('presence options', () => {
  it('are validated at startup, naming the option', async () => {
    const { resolveLonglinkOptions } = await import('../../lib/core/longlink-options.js');
    expect(resolveLonglinkOptions({}).hub.presence).toEqual({
      ttlMs: 15_000,
      graceMs: 3000,
      maxMembers: 10_000,
      maxMetaBytes: 1024,
      maxUpdatesPerSecond: 10,
    });
    expect(() => resolveLonglinkOptions({ hub: { presence: { ttlMs: 10 } } })).toThrow(/hub\.presence\.ttlMs/);
    expect(() => resolveLonglinkOptions({ hub: { presence: { graceMs: -1 } } })).toThrow(/hub\.presence\.graceMs/);
    expect(() => resolveLonglinkOptions({ hub: { presence: { nope: 1 } as never } })).toThrow(/hub\.presence\.nope/);
  });
});

const keysOf = (members: PresenceMember[]) => members.map((m) => m.key).sort();

describe.each(['memory', 'redis', 'cluster'] as const)('presence (%s)', (kind) => {
  let redis: TestRedis | undefined;
  let cluster: TestRedisCluster | undefined;
  /** `hub.redis`: a single Redis's URL or a Redis Cluster's startup nodes. */
  const config = () => (cluster ? { cluster: { nodes: cluster.startupNodes } } : redis!.url);
  // Cases on Redis and on a Redis Cluster.
  const storeOnly = (name: string, fn: () => Promise<void>) => (kind !== 'memory' ? it(name, fn) : undefined);
  let a: INestApplication;
  let hub: StreamHub;
  // Redis-only cases are defined only there (not skipped elsewhere).
  const redisOnly = (name: string, fn: () => Promise<void>) => (kind === 'redis' ? it(name, fn) : undefined);
  const presence = { ttlMs: 600, graceMs: 150, maxMembers: 3, maxMetaBytes: 64, maxUpdatesPerSecond: 3 };
  beforeAll(async () => {
    if (kind === 'redis') redis = await TestRedis.start();
    if (kind === 'cluster') cluster = await TestRedisCluster.start();
    a = await app({ presence, ...(kind !== 'memory' ? { redis: config() } : {}) });
    hub = a.get(StreamHub);
  }, 30_000);
  afterAll(async () => {
    await a.close();
    await redis?.stop();
    await cluster?.stop();
  });

  it('lists members, one key with several metas; diffs for join, update and leave (after the grace window)', async () => {
    const w = watch(hub, 'p:room');
    await until(() => w.events.length === 1, 3000, 'state');
    expect(w.events[0]!.data).toEqual({ type: 'state', members: [] });
    const phone = new AbortController();
    const laptop = new AbortController();
    const alice1 = await hub.track<object>('p:room', 'alice', { device: 'phone' }, { signal: phone.signal });
    await hub.track('p:room', 'alice', { device: 'laptop' }, { signal: laptop.signal });
    await hub.track('p:room', 'bob', { device: 'phone' });
    const members = await hub.presence('p:room');
    expect(keysOf(members)).toEqual(['alice', 'bob']);
    expect(members.find((m) => m.key === 'alice')!.metas.map((m) => m.meta)).toEqual(
      expect.arrayContaining([{ device: 'phone' }, { device: 'laptop' }]),
    );
    await until(() => w.refs.size === 3, 3000, 'three joins');
    expect(w.keys()).toEqual(['alice', 'bob']);

    await alice1.update({ device: 'phone', typing: true });
    await until(() => (w.refs.get(alice1.ref)?.meta as { typing?: boolean }).typing === true, 3000, 'update diff');
    const update = w.diffs().at(-1)!;
    expect(update).toMatchObject({
      joins: [{ key: 'alice', metas: [{ ref: alice1.ref }] }],
      leaves: [{ key: 'alice', metas: [{ ref: alice1.ref }] }],
    });

    phone.abort();
    await new Promise((r) => setTimeout(r, 50));
    expect(w.refs.has(alice1.ref)).toBe(true); // still inside the grace window
    await until(() => !w.refs.has(alice1.ref), 3000, 'leave after grace');
    expect(w.keys()).toEqual(['alice', 'bob']); // alice still has the laptop
    laptop.abort();
    await until(() => w.keys().join() === 'bob', 3000, 'alice left');
    await expect(alice1.update({})).rejects.toMatchObject({ code: 'CONFLICT' });
    w.subscription.unsubscribe();
  });

  it('a re-track of the same key within the grace window does not flap', async () => {
    const w = watch(hub, 'p:flap');
    await until(() => w.events.length === 1, 3000, 'state');
    const first = new AbortController();
    const h1 = await hub.track('p:flap', 'carol', { n: 1 }, { signal: first.signal });
    await until(() => w.refs.size === 1, 3000, 'join');
    const before = w.diffs().length;
    first.abort();
    const h2 = await hub.track('p:flap', 'carol', { n: 1 });
    expect(h2.ref).toBe(h1.ref);
    await new Promise((r) => setTimeout(r, presence.graceMs * 3));
    expect(w.diffs().length).toBe(before);
    expect(await hub.presence('p:flap')).toEqual([{ key: 'carol', metas: [{ ref: h1.ref, meta: { n: 1 } }] }]);
    h2.leave();
    await until(() => w.refs.size === 0, 3000, 'leave');
    w.subscription.unsubscribe();
  });

  it('resumes the diffs after a last event id; a fresh state after a reset', async () => {
    const w = watch(hub, 'p:resume');
    await until(() => w.events.length === 1, 3000, 'state');
    await hub.track('p:resume', 'dan', {});
    await until(() => w.refs.size === 1, 3000, 'join');
    const lastId = w.events.at(-1)!.id!;
    w.subscription.unsubscribe();
    const gone = await hub.track('p:resume', 'erin', {});
    gone.leave();
    await until(async () => keysOf(await hub.presence('p:resume')).join() === 'dan', 3000, 'erin left');
    const resumed = watch(hub, 'p:resume', lastId);
    await until(() => resumed.diffs().length === 2, 3000, 'two diffs after the id');
    expect(resumed.events.every((e) => e.kind === 'data' && e.data.type === 'diff')).toBe(true);
    resumed.subscription.unsubscribe();
    const reset = watch(hub, 'p:resume', 'nope.1');
    await until(() => reset.events.length >= 2, 3000, 'reset then state');
    expect(reset.events[0]!.kind).toBe('reset');
    expect(reset.events[1]!.data).toMatchObject({ type: 'state' });
    expect(reset.keys()).toEqual(['dan']);
    reset.subscription.unsubscribe();
  });

  it('limits: members per topic, meta size, update rate, keys; the diff topic is reserved', async () => {
    const handles = await Promise.all(['a', 'b', 'c'].map((k) => hub.track('p:full', k, {})));
    await expect(hub.track('p:full', 'd', {})).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    // Through the operator: the stream errors with the same code.
    const refused = await new Promise<unknown>((resolve) =>
      hub
        .stream('p:full')
        .pipe(hub.withPresence('p:full', 'd', {}))
        .subscribe({ error: resolve }),
    );
    expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    await expect(hub.track('p:big', 'k', { pad: 'x'.repeat(100) })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    await expect(hub.track('p:big', 'bad\nkey', {})).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(hub.track('p:big', 'k', 1n)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    for (let i = 0; i < presence.maxUpdatesPerSecond; i++) await handles[0]!.update({ i });
    await expect(handles[0]!.update({ i: 99 })).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    await expect(hub.publish('p:full:presence', {})).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    for (const h of handles) h.leave();
  });

  redisOnly('costs nothing for topics without presence; keys expire', async () => {
    await hub.publish('p:plain', { x: 1 });
    const client = redisClient(redis!.url);
    const keys = await client.keys('*');
    // Only the topic's own stream and watermark: no presence key, no presence diff topic.
    expect(keys.filter((k) => k.includes('p:plain')).sort()).toEqual(['longlink:t:p:plain', 'longlink:w:p:plain']);
    const ttl = await client.pttl('longlink:presence');
    client.disconnect();
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3 * presence.ttlMs);
  });

  storeOnly('an instance that shuts down: its members leave after the grace window; one that moved meanwhile does not flap', async () => {
    const other = await app({ presence, redis: config() });
    const w = watch(hub, 'p:restart-instance');
    await until(() => w.events.length === 1, 3000, 'state');
    const otherHub = other.get(StreamHub);
    await otherHub.track('p:restart-instance', 'gina', {});
    const moving = await otherHub.track('p:restart-instance', 'hank', {});
    await until(() => w.keys().join() === 'gina,hank', 3000, 'joins');
    await other.close();
    // hank reconnects to this instance right away: a second meta, then the old one leaves.
    const back = await hub.track('p:restart-instance', 'hank', {});
    await until(() => w.keys().join() === 'hank', 3 * presence.ttlMs, 'gina left, hank stays');
    await until(() => !w.refs.has(moving.ref), 3 * presence.ttlMs, "hank's old meta left");
    expect(w.keys()).toEqual(['hank']);
    const leftKeys = w.diffs().flatMap((d) => (d.type === 'diff' ? d.leaves.map((m) => m.key) : []));
    expect(leftKeys.sort()).toEqual(['gina', 'hank']); // hank's old meta only: hank never had no meta
    expect(keysOf(await hub.presence('p:restart-instance'))).toEqual(['hank']);
    back.leave();
    w.subscription.unsubscribe();
  });

  redisOnly('after a Redis restart, live entries come back (joins), nothing else', async () => {
    const w = watch(hub, 'p:restart');
    await until(() => w.events.length === 1, 3000, 'state');
    const h = await hub.track('p:restart', 'frank', { ok: true });
    await until(() => w.keys().join() === 'frank', 3000, 'join');
    await redis!.kill();
    await redis!.run();
    await until(() => hub.connected, 5000, 'reconnected');
    let members: PresenceMember[] = [];
    await until(async () => (members = await hub.presence('p:restart').catch(() => [])).length === 1, 3000, 'entry back');
    expect(members).toEqual([{ key: 'frank', metas: [{ ref: h.ref, meta: { ok: true } }] }]);
    // The watcher: a reset (the history was lost), a fresh state, frank still there.
    await until(() => w.events.some((e) => e.kind === 'reset'), 5000, 'reset');
    await until(() => w.keys().join() === 'frank' && w.events.at(-1)!.kind === 'data', 5000, 'state after the reset');
    expect(w.events.slice(w.events.findIndex((e) => e.kind === 'reset') + 1)[0]!.data).toMatchObject({ type: 'state' });
    h.leave();
    w.subscription.unsubscribe();
  });
});
