import { spawn, type ChildProcess } from 'node:child_process';
import type { INestApplication } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, StreamTracker } from '../../lib/index.js';
import { deferred, within } from '../harness/util.js';
import { CLIENT_SCRIPT, LONGLINK_PROTO, ROOT, STRESS_LIVENESS, startStressApp } from './stress.fixture.js';
import { HEALTHY, healthyClients } from './healthy-clients.js';
import { MiB, byMode, heapAfterGc, mib, record, settle } from './stress.util.js';

const WINDOW_MS = byMode(3000, 10_000);

describe('a stopped client under a fast stream', () => {
  let app: INestApplication;
  let baseUrl: string;
  let tracker: StreamTracker;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    ({ app, baseUrl } = await startStressApp());
    tracker = app.get(StreamTracker);
  });
  afterEach(() => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
    }
    children.clear();
  });
  afterAll(async () => {
    await app.close();
  });

  async function startClient(args: string[]): Promise<ChildProcess> {
    const child = spawn(process.execPath, [CLIENT_SCRIPT, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const first = deferred<void>();
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('first')) first.resolve();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => first.settled || first.reject(new Error(`client exited (${code}): ${output}`)));
    await within(first.promise, 10_000, 'first event at the stopped client');
    return child;
  }

  const bounds = {
    // Filling the socket buffers (several MB on loopback) at ~4 MB/s, then the stall timeout.
    sse: { bound: 15_000, text: `buffers + ${STRESS_LIVENESS.sseStallTimeoutMs} ms stall` },
    ws: { bound: STRESS_LIVENESS.wsHeartbeatMs + STRESS_LIVENESS.wsHeartbeatTimeoutMs, text: 'heartbeat + timeout (or 4429)' },
    grpc: {
      bound: STRESS_LIVENESS.grpcKeepalive.keepaliveTimeMs + STRESS_LIVENESS.grpcKeepalive.keepaliveTimeoutMs,
      text: 'keepalive time + timeout',
    },
  } as const;

  it.each(['sse', 'ws', 'grpc'] as const)('%s: cut within its bound, RSS +≤ 4 MiB, healthy p99 ≤ 1.5×', async (transport) => {
    const healthy = await healthyClients(baseUrl);
    try {
      await settle(() => tracker.size, HEALTHY, 5000);
      const args =
        transport === 'sse'
          ? ['sse', baseUrl, 'stress/fast']
          : transport === 'ws'
            ? ['ws', `${baseUrl.replace('http', 'ws')}/ws`, 'stress/fast']
            : ['grpc', String(app.get(GrpcTransport).port), 'stress/fast', LONGLINK_PROTO];
      // A first stopped client, not measured: what the first one costs once (code, buffers the
      // allocator keeps) is not growth. RSS is then compared around the second one.
      const warm = await startClient(args);
      // The control: the healthy clients' latency while that fast client still reads.
      await new Promise((r) => setTimeout(r, 500));
      healthy.reset();
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const baseP99 = healthy.p99();
      warm.kill('SIGSTOP');
      await settle(() => tracker.size, HEALTHY, 30_000);
      warm.kill('SIGCONT');
      warm.kill('SIGKILL');
      await heapAfterGc();
      const rssBefore = process.memoryUsage().rss;

      const child = await startClient(args);
      healthy.reset();
      child.kill('SIGSTOP');
      const stopped = Date.now();
      const left = await settle(() => tracker.size, HEALTHY, 30_000);
      const cutMs = Date.now() - stopped;
      // The healthy clients' latency while the stopped one was being filled and cut.
      const duringP99 = healthy.p99();
      const samples = healthy.count();
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await heapAfterGc();
      const rssAfter = process.memoryUsage().rss;

      const { bound, text } = bounds[transport];
      const slack = 2500; // timers on a shared 2-core machine
      const scenario = 'stopped client';
      // p99 criterion: 1.5× the baseline, with 5 ms of absolute slack for a baseline of a few ms.
      const p99Limit = Math.max(1.5 * baseP99, baseP99 + 5);
      const results = [
        record({
          scenario,
          transport,
          figure: 'cut after SIGSTOP',
          value: `${cutMs} ms`,
          limit: `≤ ${bound} ms + ${slack} (${text})`,
          ok: left === HEALTHY && cutMs <= bound + slack,
        }),
        record({
          scenario,
          transport,
          figure: 'RSS after cut',
          value: `${rssAfter >= rssBefore ? '+' : ''}${mib(rssAfter - rssBefore)}`,
          limit: '≤ +4 MiB',
          ok: rssAfter - rssBefore <= 4 * MiB,
        }),
        record({
          scenario,
          transport,
          figure: 'healthy p99 (reading → stopped)',
          value: `${baseP99.toFixed(1)} → ${duringP99.toFixed(1)} ms (${samples} events)`,
          limit: `≤ max(1.5×, +5 ms) = ${p99Limit.toFixed(1)} ms`,
          ok: duringP99 <= p99Limit,
        }),
      ];
      expect(left).toBe(HEALTHY);
      expect(results.every(Boolean)).toBe(true);
    } finally {
      healthy.close();
      await settle(() => tracker.size, 0, 10_000);
    }
  });
});
