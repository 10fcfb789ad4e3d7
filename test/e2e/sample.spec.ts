import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { streamsClient, toStruct } from '../harness/grpc.harness.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { deferred, until, within, wsText } from '../harness/util.js';
import { openWs } from '../harness/ws.harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = fileURLToPath(new URL('../../dist/sample/main.js', import.meta.url));

/** Starts the built sample app (what `npm start` runs) on a random port. */
async function startSample(): Promise<{ child: ChildProcess; baseUrl: string; grpcPort: number; exited: Promise<string> }> {
  if (!existsSync(main)) throw new Error('dist/sample/main.js is missing: run `npm run build` (npm test does)');
  const child = spawn(process.execPath, [main], {
    cwd: root,
    // A 1 ms hand-over spread: every retry delay is exactly 0, so each transport's value is checked exactly.
    env: { ...process.env, PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', SHUTDOWN_SPREAD_MS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
  const listening = deferred<{ baseUrl: string; grpcPort: number }>();
  let output = '';
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    const http = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
    const grpc = /gRPC at 127\.0\.0\.1:(\d+)/.exec(output);
    if (http && grpc) listening.resolve({ baseUrl: http[1]!, grpcPort: Number(grpc[1]) });
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  void exited.then((code) => listening.reject(new Error(`sample exited (${code}): ${output}`)));
  const { baseUrl, grpcPort } = await within(listening.promise, 15_000, 'sample app listening');
  return { child, baseUrl, grpcPort, exited };
}

describe('sample app (npm start)', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('serves the page and the demo streams on SSE, WebSocket and gRPC, and exits promptly on SIGTERM with streams open', async () => {
    const sample = await startSample();
    child = sample.child;
    const page = await rawGet(`${sample.baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.res.headers['content-type']).toContain('text/html');
    const html = await page.body();
    expect(html).toContain('<script type="module" src="/app.js">');
    // The page's script and the client bundle it imports (built by esbuild at startup).
    expect(await (await rawGet(`${sample.baseUrl}/app.js`)).body()).toContain("import { createClient } from '/client.js'");
    const bundle = await rawGet(`${sample.baseUrl}/client.js`);
    expect(bundle.res.headers['content-type']).toContain('text/javascript');
    expect(await bundle.body()).toMatch(/export\{/);

    const counter = parseSse(await (await rawGet(`${sample.baseUrl}/demo/counter?count=3&intervalMs=0`)).body());
    expect(counter.filter((e) => e.id).map((e) => e.data)).toEqual(['{"n":0}', '{"n":1}', '{"n":2}']);

    // demo/complete: a POST stream (fake LLM); demo/secure with a ticket from POST /demo/ticket.
    const completion = await fetch(`${sample.baseUrl}/demo/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'hello', tokenDelayMs: 0 }),
    });
    const tokens = parseSse(await completion.text()).filter((e) => e.id !== undefined);
    expect(tokens.map((e) => (JSON.parse(e.data!) as { token: string }).token).join('')).toMatch(/^You asked about "hello"\..* and it ends here\.$/);
    const issued = await fetch(`${sample.baseUrl}/demo/ticket`, { method: 'POST', headers: { authorization: 'Bearer demo-token' } });
    const { ticket } = (await issued.json()) as { ticket: string };
    const secure = parseSse(await (await rawGet(`${sample.baseUrl}/demo/secure?ticket=${ticket}`)).body());
    expect(secure[1]).toEqual({ id: '1', data: '{"ok":true}' });

    const clock = await rawGet(`${sample.baseUrl}/demo/clock`);
    await clock.waitFor((t) => t.includes('data: {"now":'), 3000);
    const ws = await openWs(`${sample.baseUrl.replace('http', 'ws')}/ws`);
    const wsMessages: string[] = [];
    const wsClosed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('message', (m) => wsMessages.push(wsText(m)));
    ws.send(JSON.stringify({ type: 'subscribe', id: 'k', stream: 'demo/clock' }));
    const client = streamsClient(sample.grpcPort);
    const grpcCall = client.Subscribe({ stream: 'demo/clock', params: toStruct({}) });
    const grpcStatus = new Promise<grpc.StatusObject>((resolve) => grpcCall.on('status', resolve));
    grpcCall.on('error', () => undefined);
    await new Promise((resolve) => grpcCall.once('data', resolve));
    await until(() => wsMessages.length > 0, 3000, 'ws event');
    child.kill('SIGTERM');
    // Nest's shutdown hooks close the app, then re-raise the signal: a clean SIGTERM exit.
    const how = await within(sample.exited, 3000, 'process exit after SIGTERM');
    expect(how).toBe('SIGTERM');
    // Deploy hand-over (PROTOCOL.md §2.1): a spread-out retry delay and the resume point.
    const events = parseSse(await clock.body(1000));
    const lastSseId = events.filter((e) => e.id).at(-1)!.id;
    const sseError = JSON.parse(events.at(-1)!.data!) as { details: { retryAfterMs?: number } };
    expect(events.at(-1)!.event).toBe('error');
    expect(sseError).toMatchObject({ code: 'UNAVAILABLE', message: 'Server is shutting down', details: { lastEventId: lastSseId } });
    expect(sseError.details.retryAfterMs).toBe(0);
    expect(events.at(-2)).toEqual({ retry: '0' });
    expect(await within(wsClosed, 1000, 'ws closed')).toBe(1001);
    const wsError = JSON.parse(wsMessages.at(-1)!) as { error: { details: { retryAfterMs?: number } } };
    const lastWsId = (JSON.parse(wsMessages.at(-2)!) as { eventId: string }).eventId;
    expect(wsError).toMatchObject({ type: 'error', id: 'k', error: { code: 'UNAVAILABLE', details: { lastEventId: lastWsId } } });
    expect(wsError.error.details.retryAfterMs).toBe(0);
    const status = await within(grpcStatus, 1000, 'grpc status');
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(status.metadata.get('longlink-retry-after-ms')).toEqual(['0']);
    expect(JSON.parse(String(status.metadata.get('longlink-error-details')[0]))).toMatchObject({ retryAfterMs: 0 });
    client.close();
  });
});
