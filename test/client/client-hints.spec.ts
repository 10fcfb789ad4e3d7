/**
 * Server hints (SSE `retry:`, `details.retryAfterMs`, the gRPC trailer) against the client's
 * backoff, over raw servers: a hint is clamped into [retry.initialMs, retry.maxMs], only raises the
 * backoff's ceiling and keeps full jitter, so no server makes a client reconnect faster than its
 * backoff, and no delay overflows a timer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, type ClientOptions, type LonglinkClient } from '../../lib/client/index.js';
import { until } from '../harness/util.js';
import { grpc, grpcFail, hostileGrpc, hostileHttp, hostileWs, type Hostile } from './hostile-servers.js';

const servers: Hostile[] = [];
const clients: LonglinkClient[] = [];
let warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  process.off('warning', onWarning);
});
function client(options: ClientOptions): LonglinkClient {
  const c = createClient(options);
  clients.push(c);
  return c;
}
const serve = <T extends Hostile>(s: T): T => (servers.push(s), s);
/** Subscribes for `ms`, then returns how many requests the server saw. */
async function requestsIn(c: LonglinkClient, count: () => number, ms: number): Promise<number> {
  const sub = c.stream('x').subscribe({ error: () => undefined });
  await new Promise((r) => setTimeout(r, ms));
  sub.unsubscribe();
  return count();
}

/**
 * The most reconnects the backoff allows in `ms`, generously: every attempt at attempt 0 (its
 * expected delay initialMs / 2), twice that for randomness, plus the first request.
 */
const bound = (initialMs: number, ms: number) => Math.ceil((2 * ms) / (initialMs / 2)) + 1;

const RETRY = { initialMs: 100, maxMs: 400 };
const SSE_HINTS = {
  'retry: 0, then the response ends': 'retry: 0\n\n',
  'retry: 99999999999 (past a timer)': 'retry: 99999999999\n\n',
  'event: error UNAVAILABLE with details.retryAfterMs 0': 'event: error\ndata: {"code":"UNAVAILABLE","message":"x","details":{"retryAfterMs":0}}\n\n',
  'details.retryAfterMs 1e300': 'event: error\ndata: {"code":"UNAVAILABLE","message":"x","details":{"retryAfterMs":1e300}}\n\n',
};

describe('client: server hints never beat the backoff', () => {
  it.each(Object.entries(SSE_HINTS))('SSE %s: reconnects within the backoff bound, no TimeoutOverflowWarning', async (_name, body) => {
    let requests = 0;
    const server = serve(await hostileHttp((_req, res) => (requests++, res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body))));
    const n = await requestsIn(client({ url: server.url, transport: 'sse', retry: RETRY }), () => requests, 1500);
    expect(n).toBeGreaterThanOrEqual(2); // it does reconnect: within maxMs, not never
    expect(n).toBeLessThanOrEqual(bound(RETRY.initialMs, 1500));
    expect(warnings.map((w) => w.name)).toEqual([]);
  });

  it('WebSocket error UNAVAILABLE with retryAfterMs 0 (the connection kept, or closed 1001): resubscribe rounds within the bound', async () => {
    let rounds = 0;
    const server = serve(
      await hostileWs((socket, m, n) => {
        rounds++;
        socket.send(JSON.stringify({ type: 'error', id: m.id, error: { code: 'UNAVAILABLE', message: 'x', details: { retryAfterMs: 0 } } }));
        if (n % 2) socket.close(1001);
      }),
    );
    const n = await requestsIn(client({ url: server.url, transport: 'ws', WebSocket, retry: RETRY }), () => rounds, 1500);
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(bound(RETRY.initialMs, 1500));
  });

  it('gRPC trailer longlink-retry-after-ms 0 and 99999999999: within the bound, no TimeoutOverflowWarning', async () => {
    let calls = 0;
    const server = serve(
      await hostileGrpc((call) => {
        calls++;
        grpcFail(call, grpc.status.UNAVAILABLE, { 'longlink-error-code': 'UNAVAILABLE', 'longlink-retry-after-ms': calls % 2 ? '0' : '99999999999' });
      }),
    );
    const n = await requestsIn(client({ url: 'http://unused', transport: 'grpc', grpcUrl: server.url, retry: RETRY }), () => calls, 1500);
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(bound(RETRY.initialMs, 1500));
    expect(warnings.map((w) => w.name)).toEqual([]);
  });

  it("the real server's retry: 2000 on every stream: clients that lose their connection together come back spread, within maxMs", async () => {
    const CLIENTS = 20;
    const first: number[] = [];
    const again: number[] = [];
    const server = serve(
      await hostileHttp((req, res) => {
        (req.headers['last-event-id'] ? again : first).push(Date.now());
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        if (req.headers['last-event-id']) return void res.end('event: complete\ndata: {}\n\n');
        res.write('retry: 2000\n\nid: 1\ndata: {}\n\n');
      }),
    );
    const subs = Array.from({ length: CLIENTS }, () => client({ url: server.url, transport: 'sse', retry: { initialMs: 50, maxMs: 600 } }).stream('x').subscribe());
    await until(() => first.length === CLIENTS, 5000, 'every client connected');
    await new Promise((r) => setTimeout(r, 50));
    const dropped = Date.now();
    for (const c of clients) c.drop();
    await until(() => again.length === CLIENTS, 5000, 'every client back');
    for (const s of subs) s.unsubscribe();
    const delays = again.map((t) => t - dropped).sort((a, b) => a - b);
    expect(delays.at(-1)).toBeLessThan(600 + 200); // clamped to maxMs (plus scheduling)
    expect(delays.at(-1)! - delays[0]!).toBeGreaterThan(150); // spread by full jitter, not one instant
  });

  it('every timer option is clamped: huge values give no TimeoutOverflowWarning', async () => {
    const server = serve(await hostileHttp((_req, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end('id: 1\ndata: {}\n\nevent: complete\ndata: {}\n\n')));
    const huge = 1e12;
    const c = client({ url: server.url, transport: 'sse', sse: { heartbeatMs: huge }, retry: { initialMs: huge, maxMs: huge }, ws: { idleMs: huge, pingMs: huge, pongTimeoutMs: huge, connectTimeoutMs: huge } });
    await new Promise<void>((resolve, reject) => c.stream('x').subscribe({ complete: resolve, error: reject }));
    const ws = serve(await hostileWs((socket, m) => socket.send(JSON.stringify({ type: 'complete', id: m.id }))));
    const c2 = client({ url: ws.url, transport: 'ws', WebSocket, ws: { idleMs: huge, pingMs: huge, pongTimeoutMs: huge, connectTimeoutMs: huge } });
    await new Promise<void>((resolve, reject) => c2.stream('x').subscribe({ complete: resolve, error: reject }));
    await new Promise((r) => setTimeout(r, 20));
    expect(warnings.map((w) => w.name)).toEqual([]);
  });
});
