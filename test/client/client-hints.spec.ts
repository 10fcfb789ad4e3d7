/**
 * Server hints against the client's backoff, over raw servers: a hand-over's
 * `details.retryAfterMs` is waited (plus at most a tenth); SSE `retry:` and the gRPC trailer only
 * raise the backoff's ceiling and keep full jitter; no hint makes a client reconnect faster than
 * its backoff or later than `maxMs`, and no delay overflows a timer. `requestsIn` counts requests
 * over a fixed window: a rate measurement, not a wait.
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

/** Hand-over delays the raw servers give, one per stream name `h/<ms>`. */
const HANDOVER_HINTS = [250, 600, 900, 1200];
const HANDOVER_ERROR = (ms: number) => ({ code: 'UNAVAILABLE', message: 'Server is shutting down', details: { retryAfterMs: ms, lastEventId: '1' } });

describe("client: a hand-over's retryAfterMs is waited, not drawn below", () => {
  /**
   * Each client gets event 1, then the hand-over error with its own `details.retryAfterMs`
   * (the server's spread), and must come back no sooner than that delay and at most a tenth
   * later (its `onRetry` delay; the server's clock gives the lower bound). A full jitter below
   * the hint would bring most of them back early.
   */
  it.each(['sse', 'ws', 'grpc'] as const)('%s: back after the hinted delay, within a tenth above it', async (transport) => {
    const handedOver = new Map<number, number>();
    const back = new Map<number, number>();
    const hintOf = (stream: string) => Number(/^\/?h\/(\d+)/.exec(stream)?.[1]);
    const seen = (stream: string, resumed: boolean) => {
      const ms = hintOf(stream);
      if (resumed) back.set(ms, Date.now());
      else handedOver.set(ms, Date.now());
      return ms;
    };
    let url: string;
    if (transport === 'sse') {
      url = serve(
        await hostileHttp((req, res) => {
          const ms = seen(req.url ?? '', !!req.headers['last-event-id']);
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          if (req.headers['last-event-id']) return void res.end('event: complete\ndata: {}\n\n');
          res.end(`id: 1\ndata: {}\n\nretry: ${ms}\n\nevent: error\ndata: ${JSON.stringify(HANDOVER_ERROR(ms))}\n\n`);
        }),
      ).url;
    } else if (transport === 'ws') {
      url = serve(
        await hostileWs((socket, m) => {
          const ms = seen(m.stream, !!m.lastEventId);
          if (m.lastEventId) return socket.send(JSON.stringify({ type: 'complete', id: m.id }));
          socket.send(JSON.stringify({ type: 'next', id: m.id, eventId: '1', data: {} }));
          socket.send(JSON.stringify({ type: 'error', id: m.id, error: HANDOVER_ERROR(ms) }));
        }),
      ).url;
    } else {
      url = serve(
        await hostileGrpc((call) => {
          const ms = seen(call.request.stream, !!call.request.lastEventId);
          if (call.request.lastEventId) return void call.end();
          call.write({ id: '1', data: Buffer.from('{}') });
          const error = HANDOVER_ERROR(ms);
          grpcFail(call, grpc.status.UNAVAILABLE, {
            'longlink-error-code': 'UNAVAILABLE',
            'longlink-retry-after-ms': String(ms),
            'longlink-error-details': JSON.stringify(error.details),
          });
        }),
      ).url;
    }
    const delays = new Map<number, number>();
    // One client per hint, as one browser per hand-over delay (a client's subscriptions share one reconnect round).
    const subscribe = (ms: number) =>
      new Promise<void>((resolve, reject) =>
        client({
          url: transport === 'grpc' ? 'http://unused' : url,
          grpcUrl: url,
          transport,
          WebSocket,
          retry: { initialMs: 50, maxMs: 5000 },
          onRetry: (_error, stream, delayMs) => delays.set(hintOf(stream), delayMs),
        })
          .stream(`h/${ms}`)
          .subscribe({ complete: resolve, error: reject }),
      );
    await Promise.all(HANDOVER_HINTS.map(subscribe));
    for (const ms of HANDOVER_HINTS) {
      expect(delays.get(ms), `onRetry delay for hint ${ms}`).toBeGreaterThanOrEqual(ms);
      expect(delays.get(ms), `onRetry delay for hint ${ms}`).toBeLessThanOrEqual(ms * 1.1);
      // The server's own clock: the client came back no sooner than it was told (1 ms for clock rounding).
      expect(back.get(ms)! - handedOver.get(ms)!, `back after hint ${ms}`).toBeGreaterThanOrEqual(ms - 1);
    }
  });
});

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
    let received = 0;
    const drawn: number[] = [];
    const subs = Array.from({ length: CLIENTS }, () =>
      client({ url: server.url, transport: 'sse', retry: { initialMs: 50, maxMs: 600 }, onRetry: (_e, _s, ms) => drawn.push(ms) })
        .stream('x')
        .subscribe(() => received++),
    );
    // Event 1 follows the retry: line, so a client that has it has read the hint.
    await until(() => received === CLIENTS, 5000, 'every client has read retry: and event 1');
    const dropped = Date.now();
    for (const c of clients) c.drop();
    await until(() => again.length === CLIENTS, 5000, 'every client back');
    for (const s of subs) s.unsubscribe();
    const delays = again.map((t) => t - dropped).sort((a, b) => a - b);
    // The delays drawn: clamped to maxMs and spread by full jitter (exact, whatever the load).
    expect(drawn).toHaveLength(CLIENTS);
    expect(Math.max(...drawn)).toBeLessThan(600);
    expect(Math.max(...drawn) - Math.min(...drawn)).toBeGreaterThan(150);
    // As the server saw them: the spread survives, and nobody waited the unclamped 2000 ms. Were it
    // not clamped, the last of 20 draws over [0, 2000) would pass 1300 ms with probability
    // 1 - 0.65^20 > 0.999; 1300 leaves 700 ms for scheduling on a loaded machine.
    expect(delays.at(-1)).toBeLessThan(1300);
    expect(delays.at(-1)! - delays[0]!).toBeGreaterThan(150);
  });

  it('every timer option is clamped: huge values give no TimeoutOverflowWarning', async () => {
    const server = serve(
      await hostileHttp((_req, res) =>
        res.writeHead(200, { 'content-type': 'text/event-stream' }).end('id: 1\ndata: {}\n\nevent: complete\ndata: {}\n\n'),
      ),
    );
    const huge = 1e12;
    const c = client({
      url: server.url,
      transport: 'sse',
      sse: { heartbeatMs: huge },
      retry: { initialMs: huge, maxMs: huge },
      ws: { idleMs: huge, pingMs: huge, pongTimeoutMs: huge, connectTimeoutMs: huge },
    });
    await new Promise<void>((resolve, reject) => c.stream('x').subscribe({ complete: resolve, error: reject }));
    const ws = serve(await hostileWs((socket, m) => socket.send(JSON.stringify({ type: 'complete', id: m.id }))));
    const c2 = client({ url: ws.url, transport: 'ws', WebSocket, ws: { idleMs: huge, pingMs: huge, pongTimeoutMs: huge, connectTimeoutMs: huge } });
    await new Promise<void>((resolve, reject) => c2.stream('x').subscribe({ complete: resolve, error: reject }));
    // process.emitWarning emits on the next tick: one turn of the loop delivers any warning the timers above caused.
    await new Promise((r) => setImmediate(r));
    expect(warnings.map((w) => w.name)).toEqual([]);
  });
});
