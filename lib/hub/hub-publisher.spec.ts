import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StreamEvent } from '../interfaces/stream-event.interface.js';
import { InMemoryHubAdapter } from './adapters/in-memory.hub-adapter.js';
import { StreamHub } from './stream-hub.js';

/** Resolves after every promise job and microtask queued so far (the in-memory hub needs no I/O). */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('StreamHub publish path (in memory)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('a subscriber that only forwards events never parses them; data is parsed once, on first read', async () => {
    const hub = new StreamHub(new InMemoryHubAdapter(10, 0));
    await hub.onModuleInit();
    const events: StreamEvent[] = [];
    const subscription = hub.stream('lazy').subscribe((e) => events.push(e));
    await settled();
    const parse = vi.spyOn(JSON, 'parse');
    const ids = [await hub.publish('lazy', { n: 1 }), await hub.publish('lazy', { n: 2 })];
    await settled();
    expect(events.map((e) => [e.id, e.json])).toEqual([
      [ids[0], '{"n":1}'],
      [ids[1], '{"n":2}'],
    ]);
    expect(parse).not.toHaveBeenCalled();
    const first = events[0]!.data;
    expect(first).toEqual({ n: 1 });
    expect(events[0]!.data).toBe(first);
    expect(parse).toHaveBeenCalledTimes(1);
    subscription.unsubscribe();
  });

  it('a burst of publishes in one turn is delivered in publish order, after publish() returns', async () => {
    const hub = new StreamHub(new InMemoryHubAdapter(100, 0));
    await hub.onModuleInit();
    const seen: number[] = [];
    const subscription = hub.stream('burst').subscribe((e) => seen.push((e.data as { n: number }).n));
    await settled();
    const published = Array.from({ length: 20 }, (_, n) => hub.publish('burst', { n }));
    expect(seen).toEqual([]);
    const ids = await Promise.all(published);
    await settled();
    expect(seen).toEqual(Array.from({ length: 20 }, (_, n) => n));
    expect(new Set(ids).size).toBe(20);
    subscription.unsubscribe();
  });

  it('a publish that cannot be serialised or names a bad topic rejects (never throws)', async () => {
    const hub = new StreamHub(new InMemoryHubAdapter(10, 0));
    await hub.onModuleInit();
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    await expect(hub.publish('ok', cyclic)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(hub.publish('bad topic', 1)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(hub.publish('x:presence', 1)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
