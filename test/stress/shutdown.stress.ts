import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { streamsClient, toStruct } from '../harness/grpc.harness.js';
import { deferred, within, wsText } from '../harness/util.js';
import { ROOT } from './stress.fixture.js';
import { byMode, percentile, record } from './stress.util.js';

const MAIN = fileURLToPath(new URL('../../dist/sample/main.js', import.meta.url));
const PER_TRANSPORT = byMode(100, 300);
const WS_PER_CONNECTION = 10;
const LIMIT_MS = 5000;

async function startSample(): Promise<{ child: ChildProcess; baseUrl: string; grpcPort: number; exited: Promise<string> }> {
  if (!existsSync(MAIN)) throw new Error('dist/sample/main.js is missing: npm run test:stress builds it');
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
  const listening = deferred<{ baseUrl: string; grpcPort: number }>();
  let output = '';
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    const httpUrl = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
    const grpcPort = /gRPC at 127\.0\.0\.1:(\d+)/.exec(output);
    if (httpUrl && grpcPort) listening.resolve({ baseUrl: httpUrl[1]!, grpcPort: Number(grpcPort[1]) });
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  void exited.then((how) => listening.reject(new Error(`sample exited (${how}): ${output}`)));
  const { baseUrl, grpcPort } = await within(listening.promise, 20_000, 'sample listening');
  return { child, baseUrl, grpcPort, exited };
}

/** How one subscription ended, and when (ms after SIGTERM, filled in later). */
interface Ending {
  transport: 'sse' | 'ws' | 'grpc';
  status: string;
  at: number;
}

describe(`SIGTERM with ${PER_TRANSPORT} open streams per transport`, () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('closes every stream with its status within 5 s, and the process exits', async () => {
    const sample = await startSample();
    child = sample.child;
    const endings: Promise<Ending>[] = [];
    const firsts: Promise<void>[] = [];
    const sockets: http.ClientRequest[] = [];

    // SSE: the error event after the first one (PROTOCOL §3.6).
    for (let i = 0; i < PER_TRANSPORT; i++) {
      const first = deferred<void>();
      firsts.push(first.promise);
      endings.push(
        new Promise<Ending>((resolve) => {
          let text = '';
          const req = http.get(`${sample.baseUrl}/demo/clock`, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              text += chunk;
              if (text.includes('data: {"now"')) first.resolve();
            });
            const done = () => {
              const error = /event: error\ndata: (.*)\n/.exec(text);
              resolve({
                transport: 'sse',
                status: error ? (JSON.parse(error[1]!) as { code: string }).code : 'closed without error',
                at: Date.now(),
              });
            };
            res.on('end', done);
            res.on('close', done);
            res.on('error', () => undefined);
          });
          req.on('error', () => resolve({ transport: 'sse', status: 'connection error', at: Date.now() }));
          sockets.push(req);
        }),
      );
    }
    // WebSocket: an error UNAVAILABLE per subscription, then close 1001 (PROTOCOL §4.6).
    for (let c = 0; c < PER_TRANSPORT / WS_PER_CONNECTION; c++) {
      const ws = new WebSocket(`${sample.baseUrl.replace('http', 'ws')}/ws`);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const errors = new Map<string, string>();
      const started = new Map<string, () => void>();
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      ws.on('error', () => undefined);
      ws.on('message', (raw) => {
        const message = JSON.parse(wsText(raw)) as { type: string; id: string; error?: { code: string } };
        if (message.type === 'next') started.get(message.id)?.();
        if (message.type === 'error') errors.set(message.id, message.error!.code);
      });
      for (let s = 0; s < WS_PER_CONNECTION; s++) {
        const id = `s${s}`;
        const first = deferred<void>();
        firsts.push(first.promise);
        started.set(id, () => first.resolve());
        ws.send(JSON.stringify({ type: 'subscribe', id, stream: 'demo/clock' }));
        endings.push(closed.then((code) => ({ transport: 'ws', status: `${errors.get(id) ?? 'no error'} + close ${code}`, at: Date.now() })));
      }
    }
    // gRPC: status UNAVAILABLE (PROTOCOL §5.4).
    const client = streamsClient(sample.grpcPort);
    for (let i = 0; i < PER_TRANSPORT; i++) {
      const first = deferred<void>();
      firsts.push(first.promise);
      const call = client.Subscribe({ stream: 'demo/clock', params: toStruct({}), lastEventId: '' });
      call.once('data', () => first.resolve());
      call.on('error', () => undefined);
      endings.push(
        new Promise<Ending>((resolve) =>
          call.on('status', (s: grpc.StatusObject) => resolve({ transport: 'grpc', status: grpc.status[s.code] ?? String(s.code), at: Date.now() })),
        ),
      );
    }
    await within(Promise.all(firsts), 30_000, 'every stream open');

    const term = Date.now();
    sample.child.kill('SIGTERM');
    const all = await within(Promise.all(endings), 15_000, 'every stream closed');
    const exit = await within(sample.exited, 15_000, 'process exit');
    const exitMs = Date.now() - term;
    client.close();
    for (const req of sockets) req.destroy();

    const expected = { sse: 'UNAVAILABLE', ws: 'UNAVAILABLE + close 1001', grpc: 'UNAVAILABLE' } as const;
    let ok = true;
    for (const transport of ['sse', 'ws', 'grpc'] as const) {
      const mine = all.filter((e) => e.transport === transport);
      const wrong = mine.filter((e) => e.status !== expected[transport]);
      const times = mine.map((e) => e.at - term);
      const max = Math.max(...times);
      const scenario = `SIGTERM ×${PER_TRANSPORT}`;
      ok =
        record({
          scenario,
          transport,
          figure: `closed with ${expected[transport]}`,
          value: `${mine.length - wrong.length}/${mine.length}${wrong[0] ? ` (e.g. ${wrong[0].status})` : ''}`,
          limit: 'all',
          ok: wrong.length === 0,
        }) && ok;
      ok =
        record({
          scenario,
          transport,
          figure: 'closed after SIGTERM (p50 / max)',
          value: `${percentile(times, 50)} / ${max} ms`,
          limit: `≤ ${LIMIT_MS} ms`,
          ok: max <= LIMIT_MS,
        }) && ok;
    }
    ok =
      record({
        scenario: `SIGTERM ×${PER_TRANSPORT}`,
        transport: 'all',
        figure: 'process exit',
        value: `${exit} after ${exitMs} ms`,
        limit: `≤ ${LIMIT_MS} ms`,
        ok: exitMs <= LIMIT_MS,
      }) && ok;
    expect(ok).toBe(true);
  });
});
