import http from 'node:http';
import type { INestApplication } from '@nestjs/common';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, StreamTracker } from '../../lib/index.js';
import { streamsClient, toStruct } from '../harness/grpc.harness.js';
import { within, wsText } from '../harness/util.js';
import { startStressApp } from './stress.fixture.js';
import { MiB, byMode, fdCount, heapAfterGc, mib, pool, record, settle } from './stress.util.js';

const CYCLES = Number(process.env.CHURN_CYCLES) || byMode(1000, 10_000);
const WARMUP = 500;
const CONCURRENCY = 16;

/** One connect → subscribe → first event → disconnect cycle per transport. */
type Cycle = (i: number) => Promise<void>;

describe(`churn: ${CYCLES} connect/subscribe/disconnect cycles per transport`, () => {
  let app: INestApplication;
  let baseUrl: string;
  let tracker: StreamTracker;
  let grpcPort: number;

  beforeAll(async () => {
    ({ app, baseUrl } = await startStressApp());
    tracker = app.get(StreamTracker);
    grpcPort = app.get(GrpcTransport).port;
  });
  afterAll(async () => {
    await app.close();
  });

  const sse: Cycle = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.get(`${baseUrl}/stress/tick`, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
        res.on('data', (chunk: Buffer) => {
          if (chunk.includes('data:')) req.destroy();
        });
        res.on('close', () => resolve());
        res.on('error', () => undefined);
      });
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || req.destroyed ? resolve() : reject(e)));
    });

  const ws: Cycle = (i) =>
    new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`);
      socket.on('open', () => socket.send(JSON.stringify({ type: 'subscribe', id: 'a', stream: 'stress/tick' })));
      socket.on('message', (raw) => {
        if (wsText(raw).includes('"next"')) {
          // Half leave cleanly, half vanish without a close frame.
          if (i % 2) socket.close();
          else socket.terminate();
        }
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });

  const grpcCycle: Cycle = () =>
    new Promise<void>((resolve) => {
      // A channel of its own per cycle (a new connection), kept out of grpc-js' global
      // subchannel pool, which frees closed entries only on a 10 s timer.
      const client = streamsClient(grpcPort, { 'grpc.use_local_subchannel_pool': 1 });
      const call = client.Subscribe({ stream: 'stress/tick', params: toStruct({}), lastEventId: '' });
      call.on('data', () => call.cancel());
      call.on('error', () => undefined);
      call.on('status', () => {
        client.close();
        resolve();
      });
    });

  it.each([
    ['sse', sse],
    ['ws', ws],
    ['grpc', grpcCycle],
  ] as const)('%s: 0 subscriptions and 0 fds left, heap within +2 MiB after GC', async (transport, cycle) => {
    await pool(WARMUP, CONCURRENCY, cycle);
    await settle(() => tracker.size, 0, 10_000);
    const fdsBefore = await settle(fdCount, 0, 500);
    const heapBefore = await heapAfterGc();
    const started = Date.now();
    await within(pool(CYCLES, CONCURRENCY, cycle), 300_000, `${transport} cycles`);
    const seconds = (Date.now() - started) / 1000;
    const left = await settle(() => tracker.size, 0, 10_000);
    const fdsAfter = await settle(fdCount, fdsBefore, 10_000);
    const heapAfter = await heapAfterGc();
    const scenario = `churn ×${CYCLES}`;
    const results = [
      record({ scenario, transport, figure: 'cycles/s', value: (CYCLES / seconds).toFixed(0), limit: '-', ok: true }),
      record({ scenario, transport, figure: 'subscriptions left', value: String(left), limit: '0', ok: left === 0 }),
      record({ scenario, transport, figure: 'fds left', value: String(fdsAfter - fdsBefore), limit: '≤ 0', ok: fdsAfter <= fdsBefore }),
      record({
        scenario,
        transport,
        figure: 'heap after GC (no JIT code)',
        value: `${heapAfter >= heapBefore ? '+' : ''}${mib(heapAfter - heapBefore)}`,
        limit: '≤ +2 MiB',
        ok: heapAfter - heapBefore <= 2 * MiB,
      }),
    ];
    expect(left).toBe(0);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore);
    expect(heapAfter - heapBefore).toBeLessThanOrEqual(2 * MiB);
    expect(results.every(Boolean)).toBe(true);
  });
});
