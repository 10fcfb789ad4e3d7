import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Controller,
  Injectable,
  Module,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { StreamTracker, getStreamCall, tracked, type LonglinkModuleOptions, type StreamHandle } from '../../lib/index.js';
import { WsTransport } from '../../lib/transports/ws/ws.transport.js';
import { FLOOD_QUEUE_BYTES, Probe, conformanceModule } from '../fixtures/probe.js';
import { clientTextFrame, rawWsConnect } from '../harness/raw-ws.js';
import { createHttpApp, type HttpPlatform } from '../harness/sse.harness.js';
import { rawGet, parseSse } from '../harness/raw-http.js';
import { deferred, until, within, wsText } from '../harness/util.js';
import { openWs, type WsServerMessage } from '../harness/ws.harness.js';

/** A `ws` client that records every server message. */
class Client {
  readonly messages: WsServerMessage[] = [];
  readonly closed = deferred<{ code: number; reason: string }>();
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      this.messages.push(JSON.parse(wsText(raw)) as WsServerMessage);
      for (const w of [...this.waiters]) {
        if (w.check()) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
    ws.on('close', (code, reason) => this.closed.resolve({ code, reason: String(reason) }));
    ws.on('error', () => undefined);
  }

  static async open(url: string, options?: WebSocket.ClientOptions): Promise<Client> {
    return new Client(await openWs(url, options));
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  of(id: string | undefined): WsServerMessage[] {
    return this.messages.filter((m) => m.id === id);
  }

  waitFor(check: (messages: WsServerMessage[]) => boolean, ms = 5000): Promise<void> {
    if (check(this.messages)) return Promise.resolve();
    return within(
      new Promise<void>((resolve) => this.waiters.push({ check: () => check(this.messages), resolve })),
      ms,
      `waitFor; got ${JSON.stringify(this.messages.slice(-5))}`,
    );
  }

  /** Round trip: every message sent before has been processed once the pong is back. */
  async ping(): Promise<void> {
    const pongs = this.messages.filter((m) => m.type === 'pong').length;
    this.send({ type: 'ping' });
    await this.waitFor((ms) => ms.filter((m) => m.type === 'pong').length > pongs);
  }
}

async function start(options: LonglinkModuleOptions['ws'] = {}, platform: HttpPlatform = 'express') {
  const { app, baseUrl } = await createHttpApp(platform, conformanceModule({ ws: { path: '/ws', ...(options as object) } }));
  return {
    app,
    url: `${baseUrl.replace('http', 'ws')}/ws`,
    baseUrl,
    port: ((app.getHttpServer() as HttpServer).address() as AddressInfo).port,
    probe: app.get(Probe),
    tracker: app.get(StreamTracker),
    transport: app.get(WsTransport),
  };
}

describe('WebSocket protocol', () => {
  let ctx: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    ctx = await start({ maxInvalidMessages: 3, maxSubscriptions: 3, maxPayloadBytes: 4096 });
  });
  afterAll(() => ctx.app.close());
  beforeEach(() => ctx.probe.reset());

  it('multiplexes subscriptions on one connection, with next/complete per id', async () => {
    const c = await Client.open(ctx.url);
    c.send({ type: 'subscribe', id: 'a', stream: 'demo/counter', params: { count: 2, intervalMs: 0 } });
    c.send({ type: 'subscribe', id: 'b', stream: 'demo/counter', params: { from: 10, count: 1, intervalMs: 0 }, lastEventId: '' });
    await c.waitFor((ms) => ms.filter((m) => m.type === 'complete').length === 2);
    expect(c.of('a')).toEqual([
      { type: 'next', id: 'a', eventId: '0', data: { n: 0 } },
      { type: 'next', id: 'a', eventId: '1', data: { n: 1 } },
      { type: 'complete', id: 'a' },
    ]);
    expect(c.of('b')).toEqual([
      { type: 'next', id: 'b', eventId: '10', data: { n: 10 } },
      { type: 'complete', id: 'b' },
    ]);
    c.ws.close();
  });

  it('unsubscribe tears the upstream down; no next for that id after the server processed it', async () => {
    const c = await Client.open(ctx.url);
    c.send({ type: 'subscribe', id: 'x', stream: 'probe/flood-drop', params: { events: '100000' } });
    await c.waitFor((ms) => ms.filter((m) => m.id === 'x').length >= 3);
    c.send({ type: 'unsubscribe', id: 'x' });
    await within(ctx.probe.torndown.promise, 100, 'upstream teardown');
    await c.ping(); // the unsubscribe was processed before this pong was sent
    const seen = c.of('x').length;
    await c.ping();
    expect(c.of('x').length).toBe(seen);
    expect(c.of('x').some((m) => m.type === 'complete' || m.type === 'error')).toBe(false);
    c.send({ type: 'unsubscribe', id: 'x' }); // unknown or ended ids are ignored
    await c.ping();
    expect(c.messages.filter((m) => m.type === 'error')).toEqual([]);
    c.ws.close();
  });

  it('a refused subscription gets an error for its id and the connection stays open', async () => {
    const c = await Client.open(ctx.url);
    c.send({ type: 'subscribe', id: 'nf', stream: 'demo/nope' });
    c.send({ type: 'subscribe', id: 'auth', stream: 'demo/secure' });
    c.send({ type: 'subscribe', id: 'bad', stream: 'demo/counter', params: { count: 0 } });
    await c.waitFor((ms) => ms.filter((m) => m.type === 'error').length === 3);
    expect(c.of('nf')[0]?.error?.code).toBe('NOT_FOUND');
    expect(c.of('auth')[0]?.error?.code).toBe('UNAUTHENTICATED');
    expect(c.of('bad')[0]?.error?.code).toBe('BAD_REQUEST');
    c.send({ type: 'subscribe', id: 'ok', stream: 'demo/counter', params: { count: 1, intervalMs: 0 } });
    await c.waitFor((ms) => ms.some((m) => m.id === 'ok' && m.type === 'complete'));
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.close();
  });

  it('guards see the upgrade request headers and cookies', async () => {
    const c = await Client.open(ctx.url, { headers: { authorization: 'Bearer demo-token', cookie: 'a=1; b=two%20words' } });
    c.send({ type: 'subscribe', id: 's', stream: 'demo/secure' });
    await c.waitFor((ms) => ms.some((m) => m.id === 's' && m.type === 'complete'));
    expect(c.of('s')[0]).toEqual({ type: 'next', id: 's', eventId: '1', data: { ok: true } });
    c.ws.close();
  });

  it('a duplicate active id is a BAD_REQUEST without id; the active subscription is unaffected', async () => {
    const c = await Client.open(ctx.url);
    c.send({ type: 'subscribe', id: 'dup', stream: 'probe/hold' });
    await c.waitFor((ms) => ms.some((m) => m.id === 'dup'));
    c.send({ type: 'subscribe', id: 'dup', stream: 'probe/hold' });
    await c.waitFor((ms) => ms.some((m) => m.type === 'error'));
    const error = c.messages.find((m) => m.type === 'error')!;
    expect(error.id).toBeUndefined();
    expect(error.error).toMatchObject({ code: 'BAD_REQUEST', details: { id: 'dup' } });
    expect(ctx.probe.active).toBe(1);
    c.ws.close();
    await within(ctx.probe.torndown.promise, 1000, 'teardown on close');
  });

  it('a malformed subscribe reusing an active id gets an error without id; the subscription goes on', async () => {
    const c = await Client.open(ctx.url);
    c.send({ type: 'subscribe', id: 'live', stream: 'probe/hold' });
    await c.waitFor((ms) => ms.some((m) => m.id === 'live'));
    c.send({ type: 'subscribe', id: 'live', stream: 5 });
    await c.waitFor((ms) => ms.some((m) => m.type === 'error'));
    const error = c.messages.find((m) => m.type === 'error')!;
    expect(error.id).toBeUndefined();
    expect(error.error).toMatchObject({ code: 'BAD_REQUEST', details: { id: 'live' } });
    expect(ctx.probe.active).toBe(1);
    c.ws.close();
    await within(ctx.probe.torndown.promise, 1000, 'teardown on close');
  });

  it.each([
    ['not JSON', '{nope'],
    ['not an object', '[1,2]'],
    ['unknown type', { type: 'subscribe-all' }],
    ['missing id', { type: 'subscribe', stream: 'demo/clock' }],
    ['oversized id', { type: 'unsubscribe', id: 'x'.repeat(129) }],
    ['__proto__ key', '{"type":"subscribe","id":"p","stream":"probe/hold","params":{"__proto__":{"admin":true}}}'],
    ['nested __proto__ key', '{"type":"subscribe","id":"p","stream":"probe/hold","params":{"a":[{"__proto__":{"admin":true}}]}}'],
    ['constructor key', '{"type":"subscribe","id":"p","stream":"probe/hold","params":{"constructor":{"prototype":{"admin":true}}}}'],
  ])('%s → error without id (BAD_REQUEST), connection stays open', async (_label, message) => {
    const c = await Client.open(ctx.url);
    c.send(message);
    await c.waitFor((ms) => ms.some((m) => m.type === 'error'));
    const [error] = c.messages;
    expect(error).toMatchObject({ type: 'error', error: { code: 'BAD_REQUEST' } });
    expect(error!.id).toBeUndefined();
    await c.ping();
    // Refused before any handler: params with prototype keys never reach user code.
    expect(ctx.probe.handlerCalls).toBe(0);
    expect(ctx.tracker.size).toBe(0);
    c.ws.close();
  });

  it('binary frames are refused with BAD_REQUEST', async () => {
    const c = await Client.open(ctx.url);
    c.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    await c.waitFor((ms) => ms.some((m) => m.type === 'error'));
    expect(c.messages[0]?.error?.code).toBe('BAD_REQUEST');
    c.ws.close();
  });

  it('closes with 4400 after more than maxInvalidMessages malformed messages', async () => {
    const c = await Client.open(ctx.url);
    for (let i = 0; i < 4; i++) c.send('garbage');
    const closed = await within(c.closed.promise, 2000, 'close');
    expect(closed.code).toBe(4400);
    expect(c.messages.filter((m) => m.type === 'error')).toHaveLength(4);
  });

  it('refuses subscriptions past maxSubscriptions with RESOURCE_EXHAUSTED', async () => {
    const c = await Client.open(ctx.url);
    for (const id of ['1', '2', '3', '4']) c.send({ type: 'subscribe', id, stream: 'probe/hold' });
    await c.waitFor((ms) => ms.some((m) => m.id === '4'));
    expect(c.of('4')[0]?.error?.code).toBe('RESOURCE_EXHAUSTED');
    await c.waitFor((ms) => ['1', '2', '3'].every((id) => ms.some((m) => m.id === id && m.type === 'next')));
    expect(ctx.probe.active).toBe(3);
    c.ws.close();
    await until(() => ctx.probe.active === 0, 1000, 'teardown');
  });

  it('a frame over maxPayloadBytes closes that connection with 1009; the server keeps serving', async () => {
    const c = await Client.open(ctx.url);
    c.send({ type: 'ping', pad: 'x'.repeat(5000) });
    expect((await within(c.closed.promise, 2000, 'close')).code).toBe(1009);
    const d = await Client.open(ctx.url);
    await d.ping();
    d.ws.close();
  });

  it('application ping gets pong', async () => {
    const c = await Client.open(ctx.url);
    await c.ping();
    expect(c.messages).toEqual([{ type: 'pong' }]);
    c.ws.close();
  });
});

describe('WebSocket upgrade checks', () => {
  @Injectable()
  class TokenGuard implements CanActivate {
    canActivate(context: ExecutionContext): boolean {
      const call = getStreamCall(context)!;
      if (call.headers['x-token'] === undefined && call.cookies.token === undefined) throw new UnauthorizedException('token required');
      return call.headers['x-token'] === 'good' || call.cookies.token === 'good';
    }
  }

  it('refuses origins not allowed with HTTP 403 (no socket); allows listed, same-origin and none', async () => {
    const ctx = await start({ allowedOrigins: ['http://good.example'] });
    try {
      await expect(openWs(ctx.url, { origin: 'http://evil.example' })).rejects.toMatchObject({ status: 403 });
      expect(ctx.transport.connectionCount).toBe(0); // refused before any WebSocket exists
      const allowed = [
        await openWs(ctx.url, { origin: 'http://good.example' }),
        await openWs(ctx.url, { origin: `http://127.0.0.1:${ctx.port}` }),
        await openWs(ctx.url),
      ];
      await until(() => ctx.transport.connectionCount === 3, 2000, 'three connections');
      for (const ws of allowed) ws.close();
      await until(() => ctx.transport.connectionCount === 0, 2000, 'connections released');
    } finally {
      await ctx.app.close();
    }
  });

  it("allowedOrigins '*' allows any origin", async () => {
    const ctx = await start({ allowedOrigins: '*' });
    try {
      (await openWs(ctx.url, { origin: 'http://anywhere.example' })).close();
    } finally {
      await ctx.app.close();
    }
  });

  it('a connection guard refuses at the upgrade with 401/403 and sees headers and cookies', async () => {
    const ctx = await start({ connectionGuard: TokenGuard });
    try {
      await expect(openWs(ctx.url)).rejects.toMatchObject({ status: 401 });
      await expect(openWs(ctx.url, { headers: { 'x-token': 'bad' } })).rejects.toMatchObject({ status: 403 });
      (await openWs(ctx.url, { headers: { 'x-token': 'good' } })).close();
      (await openWs(ctx.url, { headers: { cookie: 'token=good' } })).close();
    } finally {
      await ctx.app.close();
    }
  });
});

describe('WebSocket heartbeat', () => {
  it('terminates a peer that does not answer pings and tears its subscriptions down; live peers stay', async () => {
    const ctx = await start({ heartbeatMs: 30, heartbeatTimeoutMs: 60 });
    try {
      const live = await Client.open(ctx.url);
      let pings = 0;
      live.ws.on('ping', () => pings++);
      const dead = await Client.open(ctx.url, { autoPong: false });
      dead.send({ type: 'subscribe', id: 'h', stream: 'probe/hold' });
      await dead.waitFor((ms) => ms.some((m) => m.id === 'h'));
      const closed = await within(dead.closed.promise, 2000, 'dead peer terminated');
      expect(closed.code).toBe(1006); // terminated, no close frame
      await within(ctx.probe.torndown.promise, 500, 'teardown');
      await until(() => pings >= 3, 2000, 'pings to the live peer');
      expect(live.ws.readyState).toBe(WebSocket.OPEN);
      live.ws.close();
    } finally {
      await ctx.app.close();
    }
  });
});

describe('WebSocket slow consumers', () => {
  let ctx: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    ctx = await start({ maxBufferedBytes: 512 * 1024 });
  });
  afterAll(() => ctx.app.close());
  beforeEach(() => ctx.probe.reset());

  function capture() {
    const added: StreamHandle[] = [];
    const add = ctx.tracker.add.bind(ctx.tracker);
    ctx.tracker.add = (h, info) => {
      added.push(h);
      add(h, info);
    };
    return { added, restore: () => (ctx.tracker.add = add) };
  }

  it('disconnect: a client that stops reading is cut with 4429 within seconds; others are unaffected', async () => {
    const { added, restore } = capture();
    const slow = await rawWsConnect(ctx.port);
    slow.socket.write(clientTextFrame(JSON.stringify({ type: 'subscribe', id: 'f', stream: 'probe/flood-disconnect', params: { events: '6000' } })));
    slow.socket.pause();
    await until(() => added.length === 1, 2000, 'subscribed');
    restore();
    const healthy = await Client.open(ctx.url);
    healthy.send({ type: 'subscribe', id: 'c', stream: 'demo/counter', params: { count: 200, intervalMs: 0 } });
    await within(ctx.probe.torndown.promise, 5000, 'slow consumer cut');
    expect(added[0]!.closed).toBe(true);
    expect(added[0]!.maxQueuedBytes).toBeLessThanOrEqual(FLOOD_QUEUE_BYTES);
    expect(ctx.probe.emitted).toBeLessThan(6000);
    // Reading again within the close grace time, the client gets the 4429 close frame behind
    // the frames it had not read; it never answers it, so the server terminates the socket.
    slow.socket.resume();
    expect(await within(slow.closeFrame, 5000, 'close frame')).toMatchObject({ code: 4429 });
    await until(() => ctx.transport.connectionCount === 1, 3000, 'slow connection gone on the server');
    await within(slow.closed, 5000, 'slow socket closed');
    await healthy.waitFor((ms) => ms.some((m) => m.id === 'c' && m.type === 'complete'));
    expect(healthy.of('c').filter((m) => m.type === 'next')).toHaveLength(200);
    healthy.ws.close();
    await until(() => ctx.transport.connectionCount === 0, 2000, 'connections gone');
  });

  it('a client that sends pings but never reads is closed with 4429 before its replies pass maxBufferedBytes', async () => {
    // The server's close call is the moment to read again (the frame then waits behind the
    // pongs the client has not read, for the close grace time).
    const close = vi.spyOn(WebSocket.prototype, 'close');
    const closing = () => close.mock.calls.some(([code]) => code === 4429);
    try {
      const slow = await rawWsConnect(ctx.port);
      slow.socket.pause();
      const ping = clientTextFrame('{"type":"ping"}');
      const burst = Buffer.concat(Array.from({ length: 20_000 }, () => ping));
      for (let i = 0; i < 20 && !closing(); i++) {
        if (!slow.socket.write(burst)) await Promise.race([new Promise((r) => slow.socket.once('drain', r)), slow.closed]);
      }
      await until(closing, 5000, 'close(4429) by the server');
      slow.socket.resume();
      expect(await within(slow.closeFrame, 5000, 'close frame')).toMatchObject({ code: 4429 });
      await until(() => ctx.transport.connectionCount === 0, 5000, 'closed by the server');
      slow.socket.destroy();
    } finally {
      close.mockRestore();
    }
  });

  it('drop-oldest: the connection stays, its queue stays bounded, the client later gets the newest', async () => {
    const { added, restore } = capture();
    const slow = await rawWsConnect(ctx.port);
    slow.socket.write(clientTextFrame(JSON.stringify({ type: 'subscribe', id: 'd', stream: 'probe/flood-drop', params: { events: '3000' } })));
    slow.socket.pause();
    await until(() => added.length === 1, 2000, 'subscribed');
    restore();
    await until(() => ctx.probe.emitted === 3000, 10_000, 'all emitted');
    const handle = added[0]!;
    expect(handle.closed).toBe(false);
    expect(handle.maxQueuedBytes).toBeLessThanOrEqual(FLOOD_QUEUE_BYTES);
    expect(handle.droppedEvents).toBeGreaterThan(0);
    let text = '';
    slow.socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    slow.socket.resume();
    await until(() => text.includes('{"type":"complete","id":"d"}'), 10_000, 'complete after resume');
    expect(text).toContain('"eventId":"2999"');
    slow.socket.destroy();
    await until(() => ctx.tracker.size === 0, 2000, 'released');
  });
});

describe('WebSocket teardown and shutdown', () => {
  it('1,000 connect/subscribe/disconnect cycles leave no subscription, upstream or connection behind', async () => {
    const ctx = await start();
    try {
      for (let batch = 0; batch < 20; batch++) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const c = await Client.open(ctx.url);
            c.send({ type: 'subscribe', id: String(i), stream: 'probe/hold' });
            await c.waitFor((ms) => ms.length > 0);
            if (i % 2) c.ws.terminate();
            else c.ws.close();
          }),
        );
      }
      await until(() => ctx.tracker.size === 0 && ctx.transport.connectionCount === 0, 5000, 'all released');
      expect(ctx.probe.active).toBe(0);
    } finally {
      await ctx.app.close();
    }
  });

  it('app.close() sends UNAVAILABLE for open subscriptions and closes sockets with 1001 promptly', async () => {
    const ctx = await start();
    const c = await Client.open(ctx.url);
    c.send({ type: 'subscribe', id: 'h', stream: 'probe/hold' });
    await c.waitFor((ms) => ms.length > 0);
    await within(ctx.app.close(), 1000, 'app.close()');
    const closed = await within(c.closed.promise, 1000, 'client closed');
    expect(closed.code).toBe(1001);
    expect(c.of('h').at(-1)).toMatchObject({ type: 'error', error: { code: 'UNAVAILABLE' } });
    expect(ctx.probe.active).toBe(0);
  });
});

describe('WebSocket next to the application own gateways', () => {
  @WebSocketGateway({ path: '/app-ws' })
  class EchoGateway {
    @SubscribeMessage('echo')
    echo(@MessageBody() data: unknown) {
      return { event: 'echo', data };
    }
  }
  @Controller()
  class Nothing {}
  @Module({ providers: [EchoGateway], controllers: [Nothing] })
  class AppGateways {}

  it.each<HttpPlatform>(['express', 'fastify'])('both work with app.useWebSocketAdapter(new WsAdapter(app)) (%s)', async (platform) => {
    const module = conformanceModule({ ws: { path: '/ws' } });
    module.imports = [...(module.imports ?? []), AppGateways];
    const { app, baseUrl } = await createHttpApp(platform, module, (a: INestApplication) => a.useWebSocketAdapter(new WsAdapter(a)));
    try {
      const wsBase = baseUrl.replace('http', 'ws');
      const own = await openWs(`${wsBase}/app-ws`);
      const echoed = new Promise<string>((resolve) => own.once('message', (m) => resolve(wsText(m))));
      own.send(JSON.stringify({ event: 'echo', data: 'hi' }));
      expect(JSON.parse(await within(echoed, 2000, 'echo'))).toEqual({ event: 'echo', data: 'hi' });
      const ours = await Client.open(`${wsBase}/ws`);
      ours.send({ type: 'subscribe', id: 'c', stream: 'demo/counter', params: { count: 1, intervalMs: 0 } });
      await ours.waitFor((ms) => ms.some((m) => m.type === 'complete'));
      own.close();
      ours.ws.close();
    } finally {
      await app.close();
    }
  });
});

describe('encode once', () => {
  it('a broadcast value is serialised once for all subscribers on WS and SSE', async () => {
    const ctx = await start();
    try {
      const clients = await Promise.all(Array.from({ length: 5 }, () => Client.open(ctx.url)));
      clients.forEach((c, i) => c.send({ type: 'subscribe', id: `b${i}`, stream: 'probe/broadcast' }));
      const sse = await Promise.all([rawGet(`${ctx.baseUrl}/probe/broadcast`), rawGet(`${ctx.baseUrl}/probe/broadcast`)]);
      await until(() => ctx.probe.broadcast$.observed && ctx.tracker.size === 7, 2000, 'all subscribed');
      let serialisations = 0;
      const value = { toJSON: () => (serialisations++, { price: 42 }) };
      ctx.probe.broadcast$.next(tracked('p1', value));
      await Promise.all(clients.map((c) => c.waitFor((ms) => ms.some((m) => m.type === 'next'))));
      await Promise.all(sse.map((r) => r.waitFor((t) => t.includes('data: {"price":42}'))));
      expect(serialisations).toBe(1);
      expect(clients.map((c) => c.messages[0])).toEqual(clients.map((_, i) => ({ type: 'next', id: `b${i}`, eventId: 'p1', data: { price: 42 } })));
      expect(parseSse(sse[0].text)[1]).toEqual({ id: 'p1', data: '{"price":42}' });
      for (const c of clients) c.ws.close();
      for (const r of sse) r.destroy();
    } finally {
      await ctx.app.close();
    }
  });
});
