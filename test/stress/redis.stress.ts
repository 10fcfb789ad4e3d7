import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import type { INestApplication } from '@nestjs/common';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, StreamHub, StreamTracker, parseHubEventId } from '../../lib/index.js';
import { streamsClient, toStruct } from '../harness/grpc.harness.js';
import { parseSse } from '../harness/raw-http.js';
import { TestRedis } from '../harness/redis-server.js';
import { until, wsText } from '../harness/util.js';
import { startStressApp, stressOptions } from './stress.fixture.js';
import { byMode, record } from './stress.util.js';

const PER_PHASE = byMode(1000, 5000);
const SUBS_PER_TRANSPORT = byMode(3, 10);
const ROOM = 'restart';

/** What one subscriber saw: data events by sequence number, and reset notices, in order. */
type Seen = { seq: number } | { reset: string };

interface Sub {
  label: string;
  seen: Seen[];
  close(): void;
}

function sseSub(baseUrl: string, label: string): Sub {
  const seen: Seen[] = [];
  let buffer = '';
  const req = http.get(`${baseUrl}/stress/topic?room=${ROOM}`, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      const cut = buffer.lastIndexOf('\n\n');
      if (cut === -1) return;
      for (const e of parseSse(buffer.slice(0, cut + 2))) {
        if (e.event === 'reset') seen.push({ reset: (JSON.parse(e.data!) as { reason: string }).reason });
        else if (e.data && e.event === undefined) seen.push({ seq: (JSON.parse(e.data) as { seq: number }).seq });
        else if (e.event === 'error') seen.push({ reset: `error ${e.data}` });
      }
      buffer = buffer.slice(cut + 2);
    });
    res.on('error', () => undefined);
  });
  req.on('error', () => undefined);
  return { label, seen, close: () => req.destroy() };
}

function wsSub(baseUrl: string, label: string): Sub {
  const seen: Seen[] = [];
  const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`);
  ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', id: 'r', stream: 'stress/topic', params: { room: ROOM } })));
  ws.on('message', (raw) => {
    const m = JSON.parse(wsText(raw)) as { type: string; data?: { seq?: number; reason?: string }; error?: unknown };
    if (m.type === 'next') seen.push({ seq: m.data!.seq! });
    if (m.type === 'reset') seen.push({ reset: m.data!.reason! });
    if (m.type === 'error') seen.push({ reset: `error ${JSON.stringify(m.error)}` });
  });
  ws.on('error', () => undefined);
  return { label, seen, close: () => ws.terminate() };
}

function grpcSub(port: number, label: string): Sub {
  const seen: Seen[] = [];
  const client = streamsClient(port);
  const call = client.Subscribe({ stream: 'stress/topic', params: toStruct({ room: ROOM }), lastEventId: '' });
  call.on('data', (e: { data: Buffer; reset?: boolean }) => {
    const data = JSON.parse(e.data.toString('utf8')) as { seq?: number; reason?: string };
    seen.push(e.reset ? { reset: data.reason! } : { seq: data.seq! });
  });
  call.on('error', () => undefined);
  call.on('status', (s: grpc.StatusObject) => s.code !== grpc.status.CANCELLED && seen.push({ reset: `status ${s.code}` }));
  return {
    label,
    seen,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

describe('Redis kill -9 and restart mid-stream, two instances', () => {
  let redis: TestRedis;
  const instances: { app: INestApplication; baseUrl: string }[] = [];

  beforeAll(async () => {
    redis = await TestRedis.start();
    for (let i = 0; i < 2; i++) instances.push(await startStressApp(stressOptions({ hub: { redis: redis.url, historySize: 10_000 } })));
  }, 60_000);
  afterAll(async () => {
    for (const { app } of instances) await app.close();
    await redis.stop();
  });

  it('no acknowledged event lost, resets where history was lost, publishes back within 2 s', async () => {
    const subs: Sub[] = [];
    for (const [n, { app, baseUrl }] of instances.entries()) {
      for (let k = 0; k < SUBS_PER_TRANSPORT; k++) {
        subs.push(sseSub(baseUrl, `sse@${n}`), wsSub(baseUrl, `ws@${n}`), grpcSub(app.get(GrpcTransport).port, `grpc@${n}`));
      }
    }
    await until(() => instances.every(({ app }) => app.get(StreamTracker).size === 3 * SUBS_PER_TRANSPORT), 10_000, 'subscribed');
    await until(() => instances.every(({ app }) => app.get(StreamHub).activeTopics === 1), 10_000, 'upstreams');
    // Live from here: Redis has every instance's subscription to the room's channel.
    await redis.waitForSubscribers(`longlink:c:stress:${ROOM}`, instances.length, 10_000);

    // Publishers on both instances, one after the other; what was acknowledged is recorded.
    const hubs = instances.map(({ app }) => app.get(StreamHub));
    const acked: number[] = [];
    let seq = 0;
    const publish = async () => {
      const mine = seq++;
      try {
        const id = await hubs[mine % 2]!.publish(`stress:${ROOM}`, { seq: mine });
        if (!parseHubEventId(id)) throw new Error(`bad id ${id}`);
        acked.push(mine);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < PER_PHASE; i++) await publish();

    await redis.kill();
    // Publishes fail while it is down (never acknowledged).
    let refused = 0;
    for (let i = 0; i < 50; i++) if (!(await publish())) refused++;
    await redis.run();
    const restarted = Date.now();
    await until(publish, 10_000, 'a publish after the restart').catch(() => undefined); // backMs says how long it took
    const backMs = Date.now() - restarted;
    const firstAfter = acked.at(-1)!;
    for (let i = 0; i < PER_PHASE; i++) await publish();
    const last = acked.at(-1)!;
    await until(() => subs.every((s) => s.seen.some((e) => 'seq' in e && e.seq === last)), 30_000, 'last event everywhere').catch(() => undefined);

    // Per subscriber: in order, no duplicate; every acknowledged event received, or a reset
    // announced after the last one received before it; everything after the restart received.
    const ackedSet = new Set(acked);
    let lost = 0;
    let unannounced = 0;
    let duplicates = 0;
    let withReset = 0;
    let missingAfter = 0;
    for (const s of subs) {
      const received = new Set<number>();
      let previous = -1;
      for (const e of s.seen) {
        if ('seq' in e) {
          if (received.has(e.seq) || e.seq <= previous) duplicates++;
          received.add(e.seq);
          previous = e.seq;
        }
      }
      if (s.seen.some((e) => 'reset' in e)) withReset++;
      for (const a of ackedSet) {
        if (received.has(a)) continue;
        lost++;
        if (a >= firstAfter) missingAfter++;
        // Announced: a reset comes after the last event received before `a`.
        let before = -1;
        s.seen.forEach((e, i) => {
          if ('seq' in e && e.seq < a) before = i;
        });
        if (!s.seen.slice(before + 1).some((e) => 'reset' in e)) unannounced++;
      }
      s.close();
    }
    const scenario = 'Redis kill -9 + restart';
    const transport = `${subs.length} subs, 2 instances`;
    const ok = [
      record({
        scenario,
        transport,
        figure: 'acknowledged / refused while down',
        value: `${acked.length} / ${refused}`,
        limit: '-',
        ok: refused > 0,
      }),
      record({ scenario, transport, figure: 'publishes back after restart', value: `${backMs} ms`, limit: '≤ 2000 ms', ok: backMs <= 2000 }),
      record({ scenario, transport, figure: 'lost without a reset', value: String(unannounced), limit: '0', ok: unannounced === 0 }),
      record({ scenario, transport, figure: 'missing after the restart', value: String(missingAfter), limit: '0', ok: missingAfter === 0 }),
      record({ scenario, transport, figure: 'duplicates / out of order', value: String(duplicates), limit: '0', ok: duplicates === 0 }),
      record({
        scenario,
        transport,
        figure: 'subscribers with a reset (history lost)',
        value: `${withReset}/${subs.length}`,
        limit: 'all',
        ok: withReset === subs.length,
      }),
      record({ scenario, transport, figure: 'acknowledged lost, announced by a reset', value: String(lost - unannounced), limit: '-', ok: true }),
    ];
    expect(ok.every(Boolean)).toBe(true);
  });
});
