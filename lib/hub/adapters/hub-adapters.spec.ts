import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestRedis } from '../../../test/harness/redis-server.js';
import { until } from '../../../test/harness/util.js';
import type { HubAdapter, HubAdapterEvents, HubRecord } from '../hub-adapter.interface.js';
import { InMemoryHubAdapter } from './in-memory.hub-adapter.js';
import { RedisHubAdapter } from './redis.hub-adapter.js';

/** Records what an adapter tells the hub. */
function recorder() {
  const messages: { topic: string; epoch: string; record: HubRecord }[] = [];
  const events: HubAdapterEvents = {
    message: (topic, epoch, record) => messages.push({ topic, epoch, record }),
    disconnected: () => undefined,
    reconnected: () => undefined,
  };
  return { messages, events };
}

const HISTORY = 5;

/** The contract both adapters keep (HubAdapter), run against each. */
describe.each(['memory', 'redis'] as const)('%s hub adapter', (kind) => {
  let redis: TestRedis | undefined;
  let prefixes = 0;
  const open: HubAdapter[] = [];
  const create = async (prefix = `t${prefixes++}:`): Promise<{ adapter: HubAdapter; messages: ReturnType<typeof recorder>['messages'] }> => {
    const adapter =
      kind === 'redis'
        ? new RedisHubAdapter({ redis: redis!.url, keyPrefix: prefix, historySize: HISTORY, historyMaxAgeMs: 0 })
        : new InMemoryHubAdapter(HISTORY, 0);
    const { messages, events } = recorder();
    await adapter.start(events);
    open.push(adapter);
    return { adapter, messages };
  };

  beforeAll(async () => {
    if (kind === 'redis') redis = await TestRedis.start();
  });
  afterEach(async () => {
    for (const adapter of open.splice(0)) await adapter.close();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('publish: increasing positions under one epoch; latest, compare, isPosition, origin agree', async () => {
    const { adapter } = await create();
    const published = [];
    for (let i = 0; i < 3; i++) published.push(await adapter.publish('a', JSON.stringify({ i })));
    const positions = published.map((p) => p.record.position);
    expect(new Set(published.map((p) => p.epoch))).toEqual(new Set([await adapter.epoch()]));
    expect(adapter.compare(positions[0]!, positions[1]!)).toBeLessThan(0);
    expect(adapter.compare(positions[2]!, positions[1]!)).toBeGreaterThan(0);
    expect(adapter.compare(positions[1]!, positions[1]!)).toBe(0);
    expect(adapter.compare(adapter.origin, positions[0]!)).toBeLessThan(0);
    expect(positions.every((p) => adapter.isPosition(p))).toBe(true);
    expect(adapter.isPosition('not a position')).toBe(false);
    expect(await adapter.latest('a')).toBe(positions[2]);
    expect(await adapter.latest('never-published')).toBeUndefined();
    expect(published.map((p) => p.record.json)).toEqual(['{"i":0}', '{"i":1}', '{"i":2}']);
  });

  it('history: the records after a position, in order; nothing after the latest; all after the origin', async () => {
    const { adapter } = await create();
    const records: HubRecord[] = [];
    for (let i = 0; i < 4; i++) records.push((await adapter.publish('h', String(i))).record);
    expect(await adapter.history('h', records[1]!.position)).toMatchObject({ kind: 'complete', records: records.slice(2) });
    expect(await adapter.history('h', records[3]!.position)).toMatchObject({ kind: 'complete', records: [] });
    expect(await adapter.history('h', adapter.origin)).toMatchObject({ kind: 'complete', records });
  });

  it('history beyond historySize is a too-old gap with the latest position; a position past the latest is unknown', async () => {
    const { adapter } = await create();
    const records: HubRecord[] = [];
    for (let i = 0; i < HISTORY + 3; i++) records.push((await adapter.publish('g', String(i))).record);
    const latest = records.at(-1)!.position;
    expect(await adapter.history('g', records[0]!.position)).toMatchObject({ kind: 'gap', reason: 'too-old', latest });
    // Inside the kept history it is still complete.
    expect(await adapter.history('g', records.at(-3)!.position)).toMatchObject({ kind: 'complete', records: records.slice(-2) });
    const [ms] = latest.split('-');
    const future = kind === 'memory' ? String(Number(latest) + 100) : `${Number(ms) + 100_000}-0`;
    expect(adapter.isPosition(future)).toBe(true);
    expect(await adapter.history('g', future)).toMatchObject({ kind: 'gap', reason: 'unknown' });
  });

  it('subscribe delivers publishes of that topic only, with epoch and record; unsubscribe stops them', async () => {
    const { adapter, messages } = await create();
    await adapter.subscribe('s');
    const first = await adapter.publish('s', '"one"');
    await adapter.publish('other', '"not subscribed"');
    await until(() => messages.length >= 1, 2000, 'delivered');
    expect(messages[0]).toEqual({ topic: 's', epoch: first.epoch, record: first.record });
    await adapter.unsubscribe('s');
    await adapter.publish('s', '"after"');
    // A later subscribed topic's message proves the earlier publish had its chance to arrive.
    await adapter.subscribe('marker');
    await adapter.publish('marker', '1');
    await until(() => messages.some((m) => m.topic === 'marker'), 2000, 'marker delivered');
    expect(messages.map((m) => m.record.json)).toEqual(['"one"', '1']);
  });
});

describe('redis hub adapter across instances', () => {
  let redis: TestRedis;
  const open: HubAdapter[] = [];
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    for (const adapter of open) await adapter.close();
    await redis.stop();
  });

  it('two instances on one Redis share epoch, history and live delivery', async () => {
    const create = async () => {
      const adapter = new RedisHubAdapter({ redis: redis.url, keyPrefix: 'shared:', historySize: HISTORY, historyMaxAgeMs: 0 });
      const { messages, events } = recorder();
      await adapter.start(events);
      open.push(adapter);
      return { adapter, messages };
    };
    const a = await create();
    const b = await create();
    await b.adapter.subscribe('x');
    await redis.waitForSubscribers('shared:c:x');
    const { epoch, record } = await a.adapter.publish('x', '{"from":"a"}');
    await until(() => b.messages.length === 1, 2000, 'delivered to the other instance');
    expect(b.messages[0]).toEqual({ topic: 'x', epoch, record });
    expect(await b.adapter.epoch()).toBe(epoch);
    expect(await b.adapter.history('x', b.adapter.origin)).toMatchObject({ kind: 'complete', records: [record] });
  });
});
