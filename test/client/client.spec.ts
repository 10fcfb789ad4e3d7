import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import { firstValueFrom, toArray, type Subscription } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createClient, StreamError, type ClientOptions, type ClientState, type LonglinkClient } from '../../lib/client/index.js';
import type { ExecutionContext } from '@nestjs/common';
import { WsTransport, getStreamCall } from '../../lib/index.js';
import { DemoController, fakeReply } from '../../sample/demo/demo.controller.js';
import { until, within, wsText } from '../harness/util.js';
import { seenTickets, startServer, type TestServer } from './client-app.js';

/** Each transport choice, as a user would configure it in Node. */
const KINDS = {
  ws: (s: TestServer): ClientOptions => ({ url: s.url, transport: 'ws', WebSocket }),
  sse: (s: TestServer): ClientOptions => ({ url: s.url, transport: 'sse' }), // fetch streaming (no EventSource global in Node 20)
  'sse-eventsource': (s: TestServer): ClientOptions => ({ url: s.url, transport: 'sse', EventSource }),
  grpc: (s: TestServer): ClientOptions => ({ url: s.url, transport: 'grpc', grpcUrl: `127.0.0.1:${s.grpcPort}` }),
  auto: (s: TestServer): ClientOptions => ({ url: s.url, transport: 'auto', WebSocket }),
} as const;
type Kind = keyof typeof KINDS;

const FAST_RETRY = { initialMs: 20, maxMs: 200 };
/** A hint raises the backoff's ceiling (clamped to maxMs); without jitter the delay is that ceiling. */
const HINT_RETRY = { initialMs: 20, maxMs: 1000, jitter: 'none' as const };
const clients: LonglinkClient[] = [];
function client(options: ClientOptions): LonglinkClient {
  const c = createClient({ retry: FAST_RETRY, ...options });
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** Collects a stream's values until it ends; resolves with them (or rejects with its error). */
function collect<T>(observable: import('rxjs').Observable<T>, ms = 10_000): Promise<T[]> {
  return within(firstValueFrom(observable.pipe(toArray())), ms, 'stream end');
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe.each(Object.keys(KINDS) as Kind[])('client over %s', { timeout: 40_000 }, (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });
  const options = () => ({ ...KINDS[kind](server) });

  it('stream(): values in order, then completion', async () => {
    const c = client(options());
    const values = await collect(c.stream<{ n: number }>('demo/counter', { count: 5, intervalMs: 0 }));
    expect(values.map((v) => v.n)).toEqual([0, 1, 2, 3, 4]);
  });

  it('lastEventId option resumes after it; a resumed stream with nothing left completes (SSE 204)', async () => {
    const c = client(options());
    expect((await collect(c.stream<{ n: number }>('demo/counter', { count: 5, intervalMs: 0 }, { lastEventId: '2' }))).map((v) => v.n)).toEqual([
      3, 4,
    ]);
    expect(await collect(c.stream('demo/counter', { count: 5, intervalMs: 0 }, { lastEventId: '4' }))).toEqual([]);
  });

  it('a dropped connection reconnects and resumes from the last delivered id: no gap, no duplicate', async () => {
    const c = client(options());
    const seen: number[] = [];
    const done = collect(c.events<{ n: number }>('demo/counter', { count: 40, intervalMs: 15 }));
    const sub = c.stream<{ n: number }>('demo/counter', { count: 40, intervalMs: 15 }).subscribe((v) => {
      seen.push(v.n);
      if (seen.length === 8 || seen.length === 20) c.drop();
    });
    const events = await done;
    await until(() => seen.length === 40, 10_000, 'all values');
    sub.unsubscribe();
    expect(seen).toEqual(range(0, 40));
    expect(events.map((e) => e.type === 'next' && e.id)).toEqual(range(0, 40).map(String));
    expect(c.reconnects).toBeGreaterThanOrEqual(2);
  });

  it('events(): a reset notice is surfaced (and onReset called), then live events', async () => {
    const resets: string[] = [];
    const c = client({ ...options(), onReset: (stream, reason) => resets.push(`${stream}:${reason}`) });
    const room = `r${kind.replace(/[^a-z]/g, '')}`;
    const events: unknown[] = [];
    const sub = c.events('demo/chat', { room }, { lastEventId: 'deadbeef.999' }).subscribe((e) => events.push(e));
    await until(() => events.length === 1, 5000, 'reset');
    expect(events[0]).toMatchObject({ type: 'reset', reason: 'other-epoch' });
    expect(resets).toEqual([`demo/chat:other-epoch`]);
    const res = await fetch(`${server.url}/demo/chat/${room}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'a', text: 'hi' }),
    });
    const { id } = (await res.json()) as { id: string };
    await until(() => events.length === 2, 5000, 'chat message');
    expect(events[1]).toMatchObject({ type: 'next', id, data: { from: 'a', text: 'hi' } });
    sub.unsubscribe();
  });

  it('terminal errors end the subscription with a StreamError and no reconnect', async () => {
    const c = client(options());
    const notFound = await collect(c.stream('demo/nope')).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(StreamError);
    expect(notFound).toMatchObject({ code: 'NOT_FOUND' });
    const bad = await collect(c.stream('demo/counter', { count: 0 })).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'BAD_REQUEST', message: 'count must not be less than 1' });
    const unauth = await collect(c.stream('demo/secure')).catch((e: unknown) => e);
    expect(unauth).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(c.reconnects).toBe(0);
  });

  it('transient errors retry up to retry.maxAttempts, then end with the error', async () => {
    const c = client({ ...options(), retry: { ...FAST_RETRY, maxAttempts: 2 } });
    const values: unknown[] = [];
    const error = await new Promise<unknown>((resolve) =>
      c.stream<{ n: number }>('demo/fail', { after: 1 }).subscribe({ next: (v) => values.push(v), error: resolve }),
    );
    expect(error).toMatchObject({ code: 'INTERNAL', message: 'Internal server error' });
    expect(values).toEqual([{ n: 0 }, { n: 0 }, { n: 0 }]); // demo/fail does not resume: first try + 2 attempts
  });

  it('unsubscribing tears the subscription down on the server', async () => {
    const demo = server.app.get(DemoController);
    const c = client(options());
    const sub = c.stream('demo/clock').subscribe();
    await until(() => demo.clockUpstreams === 1, 5000, 'clock upstream');
    sub.unsubscribe();
    await until(() => demo.clockUpstreams === 0, 5000, 'clock torn down');
  });

  it('close(): live subscriptions complete and are torn down on the server; the client refuses new ones', async () => {
    const demo = server.app.get(DemoController);
    const c = client(options());
    let completed = false;
    c.stream('demo/clock').subscribe({ complete: () => (completed = true) });
    await until(() => demo.clockUpstreams === 1, 5000, 'clock upstream');
    await c.close();
    expect(completed).toBe(true);
    await until(() => demo.clockUpstreams === 0, 5000, 'clock torn down after close');
    await expect(collect(c.stream('demo/clock'))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'Client closed' });
  });

  it('iterate(): async iteration, cancelled by break', async () => {
    const demo = server.app.get(DemoController);
    const c = client(options());
    const got: string[] = [];
    for await (const v of c.iterate<{ now: string }>('demo/clock')) {
      got.push(v.now);
      break;
    }
    expect(got).toHaveLength(1);
    await until(() => demo.clockUpstreams === 0, 5000, 'clock torn down after break');
    const values: number[] = [];
    for await (const v of c.iterate<{ n: number }>('demo/counter', { count: 3, intervalMs: 0 })) values.push(v.n);
    expect(values).toEqual([0, 1, 2]);
  });

  it('state$: idle → connecting → open → reconnecting → open → closed', async () => {
    const c = client(options());
    const states: ClientState[] = [];
    c.state$.subscribe((s) => states.push(s));
    const values: number[] = [];
    const sub = c.stream<{ n: number }>('demo/counter', { count: 1000, intervalMs: 20 }).subscribe((v) => values.push(v.n));
    await until(() => values.length >= 2, 5000, 'values');
    c.drop();
    await until(() => values.length >= 6, 5000, 'values after the drop');
    sub.unsubscribe();
    await c.close();
    expect(states[0]).toBe('idle');
    expect(states).toContain('connecting');
    const open = states.indexOf('open');
    expect(open).toBeGreaterThan(0);
    expect(states.indexOf('reconnecting', open)).toBeGreaterThan(open);
    expect(states.lastIndexOf('open')).toBeGreaterThan(states.indexOf('reconnecting'));
    expect(states.at(-1)).toBe('closed');
    expect(values).toEqual(range(0, values.length));
  });

  if (kind !== 'sse' && kind !== 'sse-eventsource') {
    it('headers reach guards (Node: WS upgrade, gRPC metadata)', async () => {
      const c = client({ ...options(), headers: { authorization: 'Bearer demo-token' } });
      const [who] = await collect(c.stream<{ authorization: string }>('client/whoami'));
      expect(who!.authorization).toBe('Bearer demo-token');
      expect(await collect(c.stream('demo/secure'))).toEqual([{ ok: true }]);
    });
  } else {
    it('headers reach guards (SSE: fetch streaming is used when headers are set)', async () => {
      const c = client({ ...options(), headers: { authorization: 'Bearer demo-token' } });
      expect(await collect(c.stream('demo/secure'))).toEqual([{ ok: true }]);
    });
  }
});

describe('client: restart of the server on the same port', { timeout: 60_000 }, () => {
  for (const kind of ['ws', 'sse', 'grpc', 'auto'] as const) {
    it(`${kind}: the counter resumes with no gap or duplicate`, async () => {
      let server = await startServer();
      const { port, grpcPort } = server;
      try {
        const c = client(KINDS[kind](server));
        const seen: number[] = [];
        let failure: unknown;
        const sub = c
          .stream<{ n: number }>('demo/counter', { count: 60, intervalMs: 20 })
          .subscribe({ next: (v) => seen.push(v.n), error: (e: unknown) => (failure = e) });
        await until(() => seen.length >= 10, 5000, 'first values');
        await server.close();
        server = await startServer({ port, grpcPort });
        await until(() => seen.length === 60 || failure !== undefined, 15_000, 'all values after the restart');
        expect(failure).toBeUndefined();
        expect(seen).toEqual(range(0, 60));
        expect(c.reconnects).toBeGreaterThanOrEqual(1);
        sub.unsubscribe();
      } finally {
        await server.close();
      }
    });
  }
});

describe('client: WebSocket specifics', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ ws: { path: '/ws', heartbeatMs: 0 } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('one lazy connection multiplexes every subscription; it closes idleMs after the last one ends', async () => {
    const ws = server.app.get(WsTransport);
    const c = client({ url: server.url, transport: 'ws', WebSocket, ws: { idleMs: 100 } });
    expect(ws.connectionCount).toBe(0); // lazy
    const subs: Subscription[] = [];
    const got = new Set<number>();
    for (let i = 0; i < 5; i++) subs.push(c.stream('demo/clock').subscribe(() => got.add(i)));
    await until(() => got.size === 5, 5000, 'five subscriptions');
    expect(ws.connectionCount).toBe(1);
    for (const s of subs) s.unsubscribe();
    await until(() => ws.connectionCount === 0, 3000, 'idle close');
  });

  it('Node without a WebSocket constructor passed in: the optional peer ws is loaded on demand', async () => {
    const c = client({ url: server.url, transport: 'ws' });
    expect((await collect(c.stream<{ n: number }>('demo/counter', { count: 2, intervalMs: 0 }))).map((v) => v.n)).toEqual([0, 1]);
    expect(server.app.get(WsTransport).connectionCount).toBe(1);
  });

  it('connectionParams travel in the init message on every (re)connect; a function is called each time', async () => {
    let calls = 0;
    const c = client({ url: server.url, transport: 'ws', WebSocket, connectionParams: () => ({ token: 'good', call: ++calls }) });
    const [first] = await collect(c.stream<{ connectionParams: unknown }>('client/whoami'));
    expect(first!.connectionParams).toEqual({ token: 'good', call: 1 });
    expect(await collect(c.stream('client/init-guarded'))).toEqual([{ ok: true }]);
    const d = client({ url: server.url, transport: 'ws', WebSocket, connectionParams: { token: 'good' } });
    const values: number[] = [];
    const sub = d.stream<{ n: number }>('demo/counter', { count: 20, intervalMs: 15 }).subscribe((v) => {
      values.push(v.n);
      if (values.length === 5) d.drop();
    });
    await until(() => values.length === 20, 5000, 'counter');
    sub.unsubscribe();
    expect(values).toEqual(range(0, 20));
  });

  it('UNAUTHENTICATED is retried once when connectionParams is a function (fresh credentials), else terminal', async () => {
    let calls = 0;
    const c = client({ url: server.url, transport: 'ws', WebSocket, connectionParams: async () => ({ token: ++calls === 1 ? 'stale' : 'good' }) });
    expect(await collect(c.stream('client/init-guarded'))).toEqual([{ ok: true }]);
    expect(calls).toBe(2);
    const d = client({ url: server.url, transport: 'ws', WebSocket, connectionParams: { token: 'stale' } });
    await expect(collect(d.stream('client/init-guarded'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('a connection whose pings go unanswered is detected as dead and replaced', async () => {
    // A server that accepts and never answers anything (not even our ping messages).
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    let connections = 0;
    wss.on('connection', () => connections++);
    await new Promise((r) => wss.once('listening', r));
    const { port } = wss.address() as AddressInfo;
    try {
      const c = client({ url: `http://127.0.0.1:${port}`, transport: 'ws', WebSocket, ws: { pingMs: 50, pongTimeoutMs: 100 } });
      const states: ClientState[] = [];
      c.state$.subscribe((s) => states.push(s));
      const sub = c.stream('demo/clock').subscribe();
      await until(() => connections >= 2, 5000, 'a second connection');
      expect(states).toContain('reconnecting');
      sub.unsubscribe();
    } finally {
      for (const s of wss.clients) s.terminate();
      await new Promise((r) => wss.close(r));
    }
  });
});

describe('client: SSE specifics', () => {
  let fake: Server | undefined;
  afterEach(async () => {
    fake?.closeAllConnections();
    await new Promise((r) => (fake ? fake.close(r) : r(undefined)));
    fake = undefined;
  });
  async function fakeServer(handler: Parameters<typeof createServer>[1]): Promise<string> {
    fake = createServer(handler);
    await new Promise<void>((r) => fake!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  }

  it('no bytes (not even a heartbeat) for 2 × heartbeatMs → reconnect with Last-Event-ID', async () => {
    const requests: (string | undefined)[] = [];
    const url = await fakeServer((req, res) => {
      requests.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('id: 7\ndata: {"n":7}\n\n'); // then silence
    });
    // EventSource available but sse.fetch asked for: the fetch path, which sees heartbeats.
    const c = client({ url, transport: 'sse', EventSource, sse: { heartbeatMs: 50, fetch: true } });
    const sub = c.stream('x').subscribe();
    await until(() => requests.length >= 2, 5000, 'reconnect after silence');
    expect(requests.slice(0, 2)).toEqual([undefined, '7']);
    sub.unsubscribe();
  });

  it('fetch path parses events split across chunks, CRLF line ends and reset/complete events', async () => {
    const url = await fakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunks = [
        'retry: 10\r\n\r\nid: a\r',
        '\nda',
        'ta: {"n":1}\r\n',
        '\r\n:\r\n\r\nevent: reset\nid: b\ndata: {"reason":"too-old"}\n\n',
        'id: c\ndata: {"n":',
        '2}\n\nevent: complete\ndata: {}\n\n',
      ];
      let i = 0;
      const next = () => (i < chunks.length ? (res.write(chunks[i++]), setTimeout(next, 10)) : res.end());
      next();
    });
    const c = client({ url, transport: 'sse' });
    expect(await collect(c.events('x'))).toEqual([
      { type: 'next', id: 'a', data: { n: 1 } },
      { type: 'reset', id: 'b', reason: 'too-old' },
      { type: 'next', id: 'c', data: { n: 2 } },
    ]);
  });

  it('heartbeats keep a quiet stream alive', async () => {
    let requests = 0;
    let beats = 0;
    const url = await fakeServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(':\n\n');
      const t = setInterval(() => (res.write(':\n\n'), beats++), 30);
      res.on('close', () => clearInterval(t));
    });
    const c = client({ url, transport: 'sse', sse: { heartbeatMs: 50 } });
    const sub = c.stream('x').subscribe();
    // Over a dozen heartbeats: the quiet stream outlives several times the client's heartbeat timeout.
    await until(() => beats >= 12, 3000, 'twelve heartbeats');
    expect(requests).toBe(1);
    sub.unsubscribe();
  });

  it('details.retryAfterMs (deploy hand-over) is waited (with retry: beside it): the delay is at least the hint', async () => {
    const times: number[] = [];
    const url = await fakeServer((req, res) => {
      times.push(Date.now());
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (times.length === 1) {
        res.end(
          'retry: 400\n\nid: 1\ndata: {"n":1}\n\nevent: error\ndata: {"code":"UNAVAILABLE","message":"Server is shutting down","details":{"retryAfterMs":400}}\n\n',
        );
      } else res.end(`id: 2\ndata: {"n":2,"last":"${String(req.headers['last-event-id'])}"}\n\nevent: complete\ndata: {}\n\n`);
    });
    const c = client({ url, transport: 'sse', retry: HINT_RETRY });
    const values = await collect(c.stream('x'));
    expect(values).toEqual([{ n: 1 }, { n: 2, last: '1' }]);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(380);
  });

  it('a non-JSON 502 from a proxy is INTERNAL (transient), a 429 RESOURCE_EXHAUSTED', async () => {
    let n = 0;
    const url = await fakeServer((_req, res) => {
      n++;
      if (n === 1) return void res.writeHead(502).end('Bad gateway');
      if (n === 2) return void res.writeHead(429).end();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"ok":true}\n\nevent: complete\ndata: {}\n\n');
    });
    const c = client({ url, transport: 'sse' });
    expect(await collect(c.stream('x'))).toEqual([{ ok: true }]);
    expect(n).toBe(3);
  });

  it("ticket: a provider answering '' sends no ticket= (one provider for streams with and without tickets)", async () => {
    const urls: string[] = [];
    const url = await fakeServer((req, res) => (urls.push(req.url ?? ''), res.writeHead(204).end()));
    for (const extra of [{ EventSource }, {}]) {
      const c = client({ url, transport: 'sse', ticket: (stream) => (stream === 'needs/one' ? 'tk' : ''), ...extra });
      await collect(c.stream('open/one'));
      await collect(c.stream('needs/one'));
    }
    const tickets = urls
      .map((u) => new URL(u, 'http://x'))
      .map((u) => [u.pathname, u.searchParams.has('ticket') ? u.searchParams.get('ticket') : null]);
    // EventSource cannot see a 204's status: it asks once more with fetch (2 requests per stream).
    expect(tickets).toEqual([
      ['/open/one', null],
      ['/open/one', null],
      ['/needs/one', 'tk'],
      ['/needs/one', 'tk'],
      ['/open/one', null],
      ['/needs/one', 'tk'],
    ]);
  });

  it('ticket: a fresh ticket= on every (re)connect (EventSource and fetch paths)', async () => {
    const server = await startServer();
    try {
      seenTickets.length = 0;
      let n = 0;
      for (const extra of [{ EventSource }, {}]) {
        const c = client({ url: server.url, transport: 'sse', ticket: (stream) => (expect(stream).toBe('client/ticketed'), `t-${n++}`), ...extra });
        const values: number[] = [];
        const sub = c.stream<{ n: number }>('client/ticketed').subscribe((v) => {
          values.push(v.n);
          if (values.length === 4) c.drop();
        });
        await until(() => values.length >= 10, 5000, 'values across a reconnect');
        sub.unsubscribe();
        expect(values.slice(0, 10)).toEqual(range(0, 10));
      }
      expect(seenTickets).toEqual(['t-0', 't-1', 't-2', 't-3']);
      // Without a ticket: 401, terminal.
      const c = client({ url: server.url, transport: 'sse' });
      await expect(collect(c.stream('client/ticketed'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    } finally {
      await server.close();
    }
  });
});

describe('client: auto transport and a connection refused after init', { timeout: 40_000 }, () => {
  it('4403/4401 from the connection guard end the subscription with that error; auto stays on WebSocket (no fallback to SSE)', async () => {
    const guard = {
      canActivate: (ctx: ExecutionContext) => (getStreamCall(ctx)?.connectionParams as { token?: string } | undefined)?.token === 'good',
    };
    const server = await startServer({ ws: { path: '/ws', connectionGuard: guard, connectionGuardAt: 'init' } });
    try {
      const bad = client({ url: server.url, transport: 'auto', WebSocket, connectionParams: { token: 'bad' } });
      await expect(collect(bad.stream('demo/counter', { count: 3, intervalMs: 10 }))).rejects.toMatchObject({
        code: 'PERMISSION_DENIED',
        details: { closeCode: 4403 },
      });
      expect(bad.transport).toBe('ws');
      const good = client({ url: server.url, transport: 'auto', WebSocket, connectionParams: { token: 'good' } });
      expect((await collect(good.stream<{ n: number }>('demo/counter', { count: 3, intervalMs: 10 }))).map((v) => v.n)).toEqual([0, 1, 2]);
      expect(good.transport).toBe('ws');
    } finally {
      await server.close();
    }
  });
});

describe('client: a server that requires the init message (ws.requireInit)', { timeout: 40_000 }, () => {
  it('without connectionParams the 4408 close ends the subscription (UNAUTHENTICATED), no reconnect loop; with them it streams', async () => {
    const server = await startServer({ ws: { path: '/ws', requireInit: true, initTimeoutMs: 200 } });
    try {
      const bare = client({ url: server.url, transport: 'ws', WebSocket, retry: { initialMs: 10, maxMs: 20 } });
      const started = Date.now();
      await expect(collect(bare.stream('demo/counter', { count: 3, intervalMs: 10 }))).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
        details: { closeCode: 4408 },
      });
      expect(bare.reconnects).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      const withParams = client({ url: server.url, transport: 'ws', WebSocket, connectionParams: { token: 'good' } });
      expect((await collect(withParams.stream<{ n: number }>('demo/counter', { count: 3, intervalMs: 10 }))).map((v) => v.n)).toEqual([0, 1, 2]);
    } finally {
      await server.close();
    }
  });
});

describe('client: POST streams over SSE (sse.post)', { timeout: 40_000 }, () => {
  it('a POST stream gets its params as the JSON body and resumes across a drop with Last-Event-ID: no gap, no duplicate', async () => {
    const server = await startServer();
    try {
      const expected = fakeReply('how do streams resume');
      for (const extra of [{ EventSource }, {}]) {
        // Without sse.post the client asks with GET: the POST-only route does not serve it.
        const plain = client({ url: server.url, transport: 'sse', ...extra });
        await expect(collect(plain.stream('demo/complete', { prompt: 'x' }))).rejects.toMatchObject({
          code: 'NOT_FOUND',
          // EventSource cannot read the body; the client's fetch retry can.
          message: 'Stream "demo/complete" is a POST stream: request it with POST and a JSON body',
        });
        const c = client({ url: server.url, transport: 'sse', sse: { post: ['demo/complete'] }, ...extra });
        const tokens: { token: string; index: number }[] = [];
        let dropped = false;
        const all = collect(
          c.stream<{ token: string; index: number }>('demo/complete', { prompt: 'how do streams resume', tokenDelayMs: 5 }),
          20_000,
        );
        const sub = c
          .stream<{ token: string; index: number }>('demo/complete', { prompt: 'how do streams resume', tokenDelayMs: 5 })
          .subscribe((t) => {
            tokens.push(t);
            if (tokens.length === 3 && !dropped) {
              dropped = true;
              c.drop();
            }
          });
        const values = await all;
        await until(() => tokens.length >= expected.length, 10_000, 'every token across the drop');
        sub.unsubscribe();
        expect(dropped).toBe(true);
        expect(c.reconnects).toBeGreaterThan(0);
        expect(values.map((v) => v.token)).toEqual(expected);
        expect(tokens.map((v) => v.index)).toEqual(range(0, expected.length));
        expect(tokens.map((v) => v.token).join('')).toBe(expected.join(''));
      }
    } finally {
      await server.close();
    }
  });
});

describe('client: auto transport', { timeout: 60_000 }, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('WebSocket path refused (404) → SSE for this client', async () => {
    const c = client({ url: server.url, transport: 'auto', wsPath: '/nope', WebSocket });
    const values = await collect(c.stream<{ n: number }>('demo/counter', { count: 5, intervalMs: 0 }));
    expect(values.map((v) => v.n)).toEqual([0, 1, 2, 3, 4]);
    expect(c.transport).toBe('sse');
  });

  it('WebSocket not opening in time → SSE; WebSocket retried in the background and taken over mid-stream, no gap or duplicate', async () => {
    let attempts = 0;
    // The first socket never opens (a black-holed upgrade); later ones are real.
    class FlakyWebSocket extends WebSocket {
      constructor(url: string, ...rest: unknown[]) {
        super(++attempts === 1 ? url.replace(/:\d+\//, ':9/') : url, ...(rest as []));
      }
    }
    const ws = server.app.get(WsTransport);
    const c = client({ url: server.url, transport: 'auto', WebSocket: FlakyWebSocket, ws: { connectTimeoutMs: 300 }, autoRetryWsMs: 300 });
    const values: number[] = [];
    const transports = new Set<string>();
    const sub = c.stream<{ n: number }>('demo/counter', { count: 80, intervalMs: 20 }).subscribe((v) => {
      values.push(v.n);
      transports.add(c.transport);
    });
    await until(() => values.length === 80, 15_000, 'all values');
    sub.unsubscribe();
    expect(values).toEqual(range(0, 80));
    expect([...transports]).toEqual(['sse', 'ws']);
    expect(ws.connectionCount).toBeLessThanOrEqual(1);
  });

  it('switchTransport mid-stream in either direction: no gap or duplicate', async () => {
    const c = client({ url: server.url, transport: 'auto', WebSocket });
    const values: number[] = [];
    const sub = c.stream<{ n: number }>('demo/counter', { count: 60, intervalMs: 10 }).subscribe((v) => {
      values.push(v.n);
      if (values.length === 10) c.switchTransport('sse');
      if (values.length === 25) c.switchTransport('ws');
      if (values.length === 40) c.switchTransport('sse');
    });
    await until(() => values.length === 60, 10_000, 'all values');
    sub.unsubscribe();
    expect(values).toEqual(range(0, 60));
    expect(c.transport).toBe('sse');
  });
});

describe('client: deploy hand-over delay (details.retryAfterMs / gRPC trailer) on WS and gRPC', () => {
  it('WebSocket: error UNAVAILABLE with retryAfterMs, then close 1001 → waits, then resumes from the last id', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    const times: number[] = [];
    const resumedFrom: unknown[] = [];
    wss.on('connection', (socket) => {
      socket.on('message', (raw) => {
        const m = JSON.parse(wsText(raw)) as { type: string; id: string; lastEventId?: string };
        if (m.type !== 'subscribe') return;
        times.push(Date.now());
        if (times.length === 1) {
          socket.send(JSON.stringify({ type: 'next', id: m.id, eventId: '1', data: { n: 1 } }));
          socket.send(
            JSON.stringify({
              type: 'error',
              id: m.id,
              error: { code: 'UNAVAILABLE', message: 'Server is shutting down', details: { retryAfterMs: 400 } },
            }),
          );
          socket.close(1001);
        } else {
          resumedFrom.push(m.lastEventId);
          socket.send(JSON.stringify({ type: 'next', id: m.id, eventId: '2', data: { n: 2 } }));
          socket.send(JSON.stringify({ type: 'complete', id: m.id }));
        }
      });
    });
    try {
      const { port } = wss.address() as AddressInfo;
      const c = client({ url: `http://127.0.0.1:${port}`, transport: 'ws', WebSocket, retry: HINT_RETRY });
      expect(await collect(c.stream('x'))).toEqual([{ n: 1 }, { n: 2 }]);
      expect(resumedFrom).toEqual(['1']);
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(380);
    } finally {
      for (const s of wss.clients) s.terminate();
      await new Promise((r) => wss.close(r));
    }
  });

  it('gRPC: status UNAVAILABLE with the longlink-retry-after-ms trailer → waits, then resumes from the last id', async () => {
    const grpc = await import('@grpc/grpc-js');
    const protoLoader = await import('@grpc/proto-loader');
    const { fileURLToPath } = await import('node:url');
    const definition = protoLoader.loadSync(fileURLToPath(new URL('../../proto/longlink/v1/longlink.proto', import.meta.url)), {
      keepCase: false,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      longlink: { v1: { Streams: { service: import('@grpc/grpc-js').ServiceDefinition } } };
    };
    const server = new grpc.Server();
    const times: number[] = [];
    const resumedFrom: string[] = [];
    server.addService(pkg.longlink.v1.Streams.service, {
      Subscribe: (call: import('@grpc/grpc-js').ServerWritableStream<{ lastEventId: string }, unknown>) => {
        times.push(Date.now());
        if (times.length === 1) {
          call.write({ id: '1', data: Buffer.from('{"n":1}') });
          const trailer = new grpc.Metadata();
          trailer.set('longlink-error-code', 'UNAVAILABLE');
          trailer.set('longlink-retry-after-ms', '400');
          call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'Server is shutting down', metadata: trailer });
        } else {
          resumedFrom.push(call.request.lastEventId);
          call.write({ id: '2', data: Buffer.from('{"n":2}') });
          call.end();
        }
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    try {
      const c = client({ url: 'http://unused', transport: 'grpc', grpcUrl: `127.0.0.1:${port}`, retry: HINT_RETRY });
      expect(await collect(c.stream('x'))).toEqual([{ n: 1 }, { n: 2 }]);
      expect(resumedFrom).toEqual(['1']);
      expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(380);
    } finally {
      server.forceShutdown();
    }
  });
});
