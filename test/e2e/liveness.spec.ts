import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Controller, Module, type INestApplication } from '@nestjs/common';
import { interval, map } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, LonglinkModule, Stream, StreamTracker } from '../../lib/index.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { deferred, until, within } from '../harness/util.js';

const CLIENT = fileURLToPath(new URL('../fixtures/stoppable-client.mjs', import.meta.url));
const PROTO = fileURLToPath(new URL('../../proto/longlink/v1/longlink.proto', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAD = 'x'.repeat(8192);

@Controller('live')
class LiveController {
  /** ~8 MB/s: fills the kernel's buffers quickly once the client stops reading. */
  @Stream('fast', { flowControl: { maxQueueBytes: 1024 * 1024, policy: 'drop-oldest' } })
  fast() {
    return interval(1).pipe(map((i) => ({ i, pad: PAD })));
  }

  @Stream('slow')
  slow() {
    return interval(200).pipe(map((i) => ({ i })));
  }
}

const KEEPALIVE = { keepaliveTimeMs: 500, keepaliveTimeoutMs: 500 };
const STALL_MS = 500;

@Module({
  imports: [
    LonglinkModule.forRoot({
      sse: { stallTimeoutMs: STALL_MS },
      ws: { path: '/ws', heartbeatMs: 500, heartbeatTimeoutMs: 500 },
      grpc: { url: '127.0.0.1:0', keepalive: KEEPALIVE },
    }),
  ],
  controllers: [LiveController],
})
class LiveModule {}

describe('liveness: a client process stopped with SIGSTOP is dropped', () => {
  let app: INestApplication;
  let baseUrl: string;
  let tracker: StreamTracker;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    ({ app, baseUrl } = await createHttpApp('express', LiveModule));
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

  /** Starts the client, waits for its first event, stops it; resolves with the time of the stop. */
  async function stoppedClient(args: string[]): Promise<number> {
    const child = spawn(process.execPath, [CLIENT, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const first = deferred<void>();
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('first')) first.resolve();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => first.settled || first.reject(new Error(`client exited (${code}): ${output}`)));
    await within(first.promise, 10_000, 'first event at the client');
    expect(tracker.size).toBe(1);
    child.kill('SIGSTOP');
    return Date.now();
  }

  it('SSE under a fast stream: cut once its socket has not drained for sse.stallTimeoutMs', async () => {
    const stopped = await stoppedClient(['sse', baseUrl, 'live/fast']);
    await until(() => tracker.size === 0, 20_000, 'stalled SSE subscription released');
    // Filling the kernel's socket buffers takes a moment, then the stall timeout runs.
    expect(Date.now() - stopped).toBeLessThan(20_000);
  }, 40_000);

  it('gRPC: dropped by the HTTP/2 keepalive within keepaliveTimeMs + keepaliveTimeoutMs', async () => {
    const stopped = await stoppedClient(['grpc', String(app.get(GrpcTransport).port), 'live/slow', PROTO]);
    await until(() => tracker.size === 0, 10_000, 'stopped gRPC client dropped');
    const bound = KEEPALIVE.keepaliveTimeMs + KEEPALIVE.keepaliveTimeoutMs;
    // Timers are not exact on a busy machine: a generous margin over the documented bound.
    expect(Date.now() - stopped).toBeLessThan(bound + 2500);
  }, 30_000);

  it('WebSocket: dropped by the heartbeat within heartbeatMs + heartbeatTimeoutMs', async () => {
    const stopped = await stoppedClient(['ws', `${baseUrl.replace('http', 'ws')}/ws`, 'live/slow']);
    await until(() => tracker.size === 0, 10_000, 'stopped WS client dropped');
    expect(Date.now() - stopped).toBeLessThan(1000 + 2500);
  }, 30_000);
});

describe('liveness defaults', () => {
  it('gRPC keepalive pings and the SSE stall timeout and TCP keepalive are on by default', async () => {
    const { resolveLonglinkOptions } = await import('../../lib/core/longlink-options.js');
    const resolved = resolveLonglinkOptions({ grpc: true });
    expect(resolved.grpc!.keepalive).toEqual({ keepaliveTimeMs: 30_000, keepaliveTimeoutMs: 10_000 });
    expect(resolveLonglinkOptions({ grpc: { keepalive: { keepaliveTimeMs: 5000 } } }).grpc!.keepalive).toEqual({
      keepaliveTimeMs: 5000,
      keepaliveTimeoutMs: 10_000,
    });
    expect(resolved.sse).toMatchObject({ stallTimeoutMs: 30_000, tcpKeepAliveMs: 30_000 });
  });
});
