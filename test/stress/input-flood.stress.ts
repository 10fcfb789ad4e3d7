/**
 * input-flood: WebSocket clients send client messages as fast as their sockets take them into
 * a two-way stream whose handler is slower (PROTOCOL.md §7). The server's input queues stay
 * bounded (it stops reading the flooding sockets), its heap stays flat, and healthy subscribers
 * on other connections keep their latency (p99 within 1.5× of a control run without the flood).
 */
import type { INestApplication } from '@nestjs/common';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamTracker } from '../../lib/index.js';
import { SlowInputController } from '../fixtures/duplex.js';
import { HEALTHY, healthyClients } from './healthy-clients.js';
import { within } from '../harness/util.js';
import { ROOT, startStressApp, stressOptions } from './stress.fixture.js';
import { MiB, byMode, heapAfterGc, mib, percentile, record, settle } from './stress.util.js';

const WINDOW_MS = byMode(1000, 5000);
const ROUNDS = byMode(4, 8);
/** Time for the server to take what the stopped flooders' subscriptions queued (64 × 10 ms). */
const DRAIN_MS = 1000;
const FLOODERS = 4;
const PAYLOAD_BYTES = 4000;
const FLOODER = fileURLToPath(new URL('../fixtures/input-flooder.mjs', import.meta.url));

/** The flooding clients, in a child process (their frame building must not load the server's loop). */
async function flooders(baseUrl: string) {
  const child = spawn(process.execPath, [FLOODER, `${baseUrl.replace('http', 'ws')}/ws`, 'duplex/slow', String(FLOODERS), String(PAYLOAD_BYTES)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const next = () => within(new Promise<string>((resolve) => lines.once('line', resolve)), 10_000, 'flooder output');
  expect(await next()).toBe('ready');
  return {
    async stats(): Promise<{ sent: number; acks: number; refusals: number; unsent: number }> {
      child.stdin.write('stats\n');
      return JSON.parse(await next()) as { sent: number; acks: number; refusals: number; unsent: number };
    },
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: () => {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    },
  };
}

describe('a flood of client messages into a slow two-way stream', () => {
  let app: INestApplication;
  let baseUrl: string;
  let tracker: StreamTracker;
  beforeAll(async () => {
    ({ app, baseUrl } = await startStressApp(stressOptions({ input: { maxQueue: 64 } }), [SlowInputController]));
    tracker = app.get(StreamTracker);
  });
  afterAll(async () => {
    await app.close();
  });

  it('ws: queues bounded, heap flat, healthy p99 ≤ 1.5× the control', async () => {
    const healthy = await healthyClients(baseUrl);
    let flood: Awaited<ReturnType<typeof flooders>> | undefined;
    try {
      await settle(() => tracker.size, HEALTHY, 5000);
      flood = await flooders(baseUrl);
      const heapBefore = await heapAfterGc();
      // Control and flood windows alternate, so that a change in the machine's load falls on
      // both alike: the flooders are stopped (SIGSTOP) for the control windows, once the
      // server has drained what their subscriptions had queued.
      const control: number[] = [];
      const flooded: number[] = [];
      let heapDuring = 0;
      for (let round = 0; round < ROUNDS; round++) {
        flood.pause();
        await new Promise((r) => setTimeout(r, DRAIN_MS));
        healthy.reset();
        await new Promise((r) => setTimeout(r, WINDOW_MS));
        control.push(...healthy.samples());
        flood.resume();
        await new Promise((r) => setTimeout(r, 300));
        healthy.reset();
        await new Promise((r) => setTimeout(r, WINDOW_MS));
        flooded.push(...healthy.samples());
        if (round === 0) heapDuring = await heapAfterGc();
      }
      const baseP99 = percentile(control, 99);
      const duringP99 = percentile(flooded, 99);
      const samples = flooded.length;
      const { sent, acks: acked, refusals: refused, unsent } = await flood.stats();
      const scenario = 'input flood';
      const transport = 'ws';
      const p99Limit = Math.max(1.5 * baseP99, baseP99 + 5);
      // Each flooding subscription holds at most 64 queued messages of ~4 KB, plus what its
      // socket buffers hold: bounded by queue × size, whatever the client has sent.
      const heapLimit = 16 * MiB;
      const results = [
        record({
          scenario,
          transport,
          figure: 'messages sent / acked / refused',
          value: `${sent} / ${acked} / ${refused} (${mib(unsent)} unsent)`,
          limit: 'acked > 0, refused 0, unsent > 0 (pushed back)',
          ok: acked > 0 && refused === 0 && unsent > 0,
        }),
        record({
          scenario,
          transport,
          figure: 'server heap during flood',
          value: `${heapDuring >= heapBefore ? '+' : ''}${mib(heapDuring - heapBefore)}`,
          limit: `≤ +${mib(heapLimit)}`,
          ok: heapDuring - heapBefore <= heapLimit,
        }),
        record({
          scenario,
          transport,
          figure: 'healthy p99 (control → flood)',
          value: `${baseP99.toFixed(1)} → ${duringP99.toFixed(1)} ms (${samples} events)`,
          limit: `≤ max(1.5×, +5 ms) = ${p99Limit.toFixed(1)} ms`,
          ok: duringP99 <= p99Limit,
        }),
      ];
      expect(results.every(Boolean)).toBe(true);
    } finally {
      flood?.stop();
      healthy.close();
      await settle(() => tracker.size, 0, 10_000);
    }
  });
});
