import { createRequire } from 'node:module';
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamsClient, toStruct } from '../harness/grpc.harness.js';
import { onSseEvents } from '../harness/raw-http.js';
import { TestRedis } from '../harness/redis-server.js';
import { launchSample, type SampleProcess } from '../harness/sample-process.js';
import { until, within, wsText } from '../harness/util.js';

/**
 * Presence survives a crash (PROTOCOL.md §6.5): two sample processes on one Redis, MEMBERS chat
 * members over SSE, WebSocket and gRPC split between them, presence watched on the surviving
 * instance over the three transports. One instance is killed with SIGKILL: each of its members
 * leaves (the diff reaches every watcher) within 2 × TTL, no member of the other instance
 * leaves, and 3 × TTL later nothing of the dead instance is left in Redis.
 */
const MEMBERS = Number(process.env.PRESENCE_MEMBERS ?? 200);
const TTL_MS = 2000;
const ROOM = 'crash';

type Meta = { ref: string; meta: unknown };
type Member = { key: string; metas: Meta[] };
type PresenceData = { type: 'state'; members: Member[] } | { type: 'diff'; joins: Member[]; leaves: Member[] };

/** Applies a presence stream's events by ref; records every key that ever left. */
class View {
  readonly refs = new Map<string, string>(); // ref → key
  readonly left = new Set<string>();
  lastId: string | undefined;
  apply(id: string | undefined, data: PresenceData): void {
    if (id) this.lastId = id;
    if (data.type === 'state') {
      this.refs.clear();
      for (const m of data.members) for (const x of m.metas) this.refs.set(x.ref, m.key);
      return;
    }
    for (const m of data.leaves) for (const x of m.metas) this.refs.delete(x.ref);
    for (const m of data.joins) for (const x of m.metas) this.refs.set(x.ref, m.key);
    for (const m of data.leaves) if (![...this.refs.values()].includes(m.key)) this.left.add(m.key);
  }
  keys(): string[] {
    return [...new Set(this.refs.values())].sort();
  }
}

/** Reads an SSE response, calling `on` with each event's id and parsed data. */
function sse(url: string, on: (id: string | undefined, data: unknown) => void, lastEventId?: string): http.ClientRequest {
  const req = http.get(url, { headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) } });
  req.on('error', () => undefined);
  req.on('response', (res) => {
    onSseEvents(res, (fields) => {
      if (fields.data !== undefined && fields.event === undefined) on(fields.id, JSON.parse(fields.data));
    });
    res.on('error', () => undefined);
  });
  return req;
}

function ws(base: string, stream: string, params: object, on?: (id: string | undefined, data: unknown) => void): WebSocket {
  const socket = new WebSocket(`${base.replace('http', 'ws')}/ws`);
  socket.on('error', () => undefined);
  socket.on('open', () => socket.send(JSON.stringify({ type: 'subscribe', id: 's', stream, params })));
  socket.on('message', (raw) => {
    const m = JSON.parse(wsText(raw)) as { type: string; eventId?: string; data?: unknown };
    if (m.type === 'next') on?.(m.eventId, m.data);
  });
  return socket;
}

function grpcCall(
  client: ReturnType<typeof streamsClient>,
  stream: string,
  params: Record<string, unknown>,
  on?: (id: string | undefined, data: unknown) => void,
) {
  const call = client.Subscribe({ stream, params: toStruct(params) }) as grpc.ClientReadableStream<{ id: string; data: Buffer; reset: boolean }>;
  call.on(
    'data',
    (e: { id: string; data: Buffer; reset: boolean }) =>
      !e.reset && on?.(e.id || undefined, JSON.parse(Buffer.from(e.data).toString('utf8')) as unknown),
  );
  call.on('error', () => undefined);
  return call;
}

describe('presence after kill -9 (two sample instances on one Redis)', () => {
  let redis: TestRedis;
  let a: SampleProcess;
  let b: SampleProcess;
  const closers: (() => void)[] = [];
  const grpcClients: ReturnType<typeof streamsClient>[] = [];

  beforeAll(async () => {
    redis = await TestRedis.start();
    const env = { REDIS_URL: redis.url, PRESENCE_TTL_MS: String(TTL_MS), PRESENCE_GRACE_MS: '300' };
    // Two Nest processes booting at once on a busy machine: a generous deadline.
    const start = () => within(launchSample(env).listening, 50_000, 'sample app listening');
    [a, b] = await Promise.all([start(), start()]);
  }, 60_000);
  afterAll(async () => {
    for (const close of closers) close();
    for (const g of grpcClients) g.close();
    for (const p of [a, b]) if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all([a?.exited, b?.exited]);
    await redis?.stop();
  });

  it('every member of the killed instance leaves within 2 × TTL; the others stay; no ghost after 3 × TTL', async () => {
    const grpcA = streamsClient(a.grpcPort);
    const grpcB = streamsClient(b.grpcPort);
    grpcClients.push(grpcA, grpcB);
    // Watchers on the instance that survives, one per transport.
    const views = { sse: new View(), ws: new View(), grpc: new View() };
    const watch = (view: View) => (id: string | undefined, data: unknown) => view.apply(id, data as PresenceData);
    const sseWatcher = sse(`${b.baseUrl}/demo/presence?room=${ROOM}`, watch(views.sse));
    const wsWatcher = ws(b.baseUrl, 'demo/presence', { room: ROOM }, watch(views.ws));
    const grpcWatcher = grpcCall(grpcB, 'demo/presence', { room: ROOM }, watch(views.grpc));
    closers.push(
      () => sseWatcher.destroy(),
      () => wsWatcher.terminate(),
      () => grpcWatcher.cancel(),
    );

    // Members: even ones on A, odd ones on B, transports in turn.
    const onA: string[] = [];
    const onB: string[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const name = `user-${String(i).padStart(3, '0')}`;
      const instance = i % 2 === 0 ? a : b;
      (instance === a ? onA : onB).push(name);
      const params = { room: ROOM, name };
      const transport = Math.floor(i / 2) % 3;
      if (transport === 0) {
        const req = sse(`${instance.baseUrl}/demo/chat?room=${ROOM}&name=${name}`, () => undefined);
        closers.push(() => req.destroy());
      } else if (transport === 1) {
        const socket = ws(instance.baseUrl, 'demo/chat', params);
        closers.push(() => socket.terminate());
      } else {
        const call = grpcCall(instance === a ? grpcA : grpcB, 'demo/chat', params);
        closers.push(() => call.cancel());
      }
    }
    const everyone = [...onA, ...onB].sort();
    for (const [transport, view] of Object.entries(views)) {
      await until(() => view.keys().length === MEMBERS, 20_000, `${transport} watcher: all ${MEMBERS} members joined`);
      expect(view.keys()).toEqual(everyone);
    }

    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;
    const survivors = [...onB].sort();
    const leftAt: Record<string, number> = {};
    await Promise.all(
      Object.entries(views).map(async ([transport, view]) => {
        await until(() => view.keys().length === survivors.length, 4 * TTL_MS, `${transport} watcher: A's members left`);
        leftAt[transport] = Date.now() - killedAt;
      }),
    );
    for (const [transport, ms] of Object.entries(leftAt)) expect(ms, `${transport}: leaves within 2 × TTL`).toBeLessThanOrEqual(2 * TTL_MS);
    for (const view of Object.values(views)) {
      expect(view.keys()).toEqual(survivors);
      expect([...view.left].sort()).toEqual([...onA].sort()); // only A's members ever left
    }

    // 3 × TTL later: the same, in the watchers and in Redis.
    await new Promise((r) => setTimeout(r, 3 * TTL_MS));
    for (const view of Object.values(views)) {
      expect(view.keys()).toEqual(survivors);
      expect([...view.left].sort()).toEqual([...onA].sort());
    }
    const ioredis = createRequire(import.meta.url)('ioredis') as { default?: unknown };
    const Redis = (ioredis.default ?? ioredis) as new (url: string) => import('ioredis').Redis;
    const client = new Redis(redis.url);
    try {
      const entries = await client.hgetall(`longlink:pm:chat:${ROOM}`);
      expect(
        Object.values(entries)
          .map((v) => v.split('\n')[0])
          .sort(),
      ).toEqual(survivors);
      expect(await client.zcard('longlink:presence')).toBe(survivors.length);
    } finally {
      client.disconnect();
    }

    // A watcher that resumes from its last id gets the state it has (no diff missed).
    const resumed = new View();
    for (const [ref, key] of views.sse.refs) resumed.refs.set(ref, key);
    const again = sse(`${b.baseUrl}/demo/presence?room=${ROOM}`, watch(resumed), views.sse.lastId);
    closers.push(() => again.destroy());
    const fresh = new View();
    const late = sse(`${b.baseUrl}/demo/presence?room=${ROOM}`, watch(fresh));
    closers.push(() => late.destroy());
    await until(() => fresh.keys().length === survivors.length, 5000, 'a late watcher gets the state');
    expect(fresh.keys()).toEqual(survivors);
    expect(resumed.keys()).toEqual(survivors);
  }, 90_000);
});
