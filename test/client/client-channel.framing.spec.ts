import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createClient, StreamError, type ClientOptions, type LonglinkClient } from '../../lib/client/index.js';
import { INPUT_CHANNEL } from '../../lib/protocol/input.protocol.js';
import { until, within, wsText } from '../harness/util.js';

/**
 * `client.channel()` framing against raw servers written here from PROTOCOL.md §7: SSE POST
 * (§7.4) and a hostile WebSocket server (§7.2). gRPC `Channel` (§7.3) against a raw server is in
 * client-channel.transports.spec.ts: it needs the `Channel` method in longlink.proto.
 */

const FAST_RETRY = { initialMs: 20, maxMs: 200 };
const clients: LonglinkClient[] = [];
function client(options: ClientOptions): LonglinkClient {
  const c = createClient({ retry: FAST_RETRY, ...options });
  clients.push(c);
  return c;
}
const closers: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const close of closers.splice(0)) await close();
});

const outcome = (p: Promise<void>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof StreamError ? e.code : `not a StreamError: ${String(e)}`),
  );

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

describe('SSE: a channel POSTs each message to <url><sse.inputPath>/<channel> (PROTOCOL.md §7.4)', () => {
  /** An HTTP server answering with `handler`; a handler that rejects is an unhandled rejection (fails the test). */
  async function fakeServer(handler: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>): Promise<string> {
    const server: Server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('one POST in flight at a time, in order; 429 with retryAfterMs and 503 are retried, 400 rejects that send only; the half-close goes last', async () => {
    let channel: string | null = null;
    const posts: { path: string; body: string; type: string | undefined; auth: string | undefined }[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const refusedOnce = new Set<string>();
    const url = await fakeServer(async (req, res) => {
      if (req.method === 'GET') {
        channel = new URL(req.url!, 'http://x').searchParams.get('channel');
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(':\n\n');
        return;
      }
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const text = await body(req);
      posts.push({ path: req.url!, body: text, type: req.headers['content-type'], auth: req.headers.authorization });
      await new Promise((r) => setTimeout(r, 5)); // answers take a while: a second POST would overlap
      inFlight--;
      const m = JSON.parse(text) as { id?: string; data?: string; end?: boolean };
      const answer = (status: number, json: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      if (m.end) return answer(202, { end: true });
      if (m.data === 'bad') return answer(400, { code: 'BAD_REQUEST', message: 'text should not be empty' });
      if ((m.data === 'busy' || m.data === 'down') && !refusedOnce.has(m.data)) {
        refusedOnce.add(m.data);
        if (m.data === 'down') return answer(503, { code: 'UNAVAILABLE', message: 'holder unreachable' });
        return answer(429, { code: 'RESOURCE_EXHAUSTED', message: 'Input queue is full', details: { retryAfterMs: 30 } });
      }
      answer(202, { id: m.id });
    });
    const c = client({ url: `${url}/api`, transport: 'sse', headers: { authorization: 'Bearer t' }, sse: { inputPath: '/custom/input' } });
    const chat = c.channel<unknown, string>('room');
    const sub = chat.subscribe();
    const results = await within(Promise.all(['a', 'busy', 'bad', 'b', 'down', 'c'].map((d) => outcome(chat.send(d)))), 10_000, 'answers');
    expect(results).toEqual(['ok', 'ok', 'BAD_REQUEST', 'ok', 'ok', 'ok']);
    chat.complete();
    await until(() => posts.some((p) => p.body === '{"end":true}'), 5000, 'half-close');
    expect(channel).toBe(chat.key);
    expect(chat.key).toMatch(INPUT_CHANNEL);
    expect(posts.every((p) => p.path === `/api/custom/input/${chat.key}` && p.type === 'application/json' && p.auth === 'Bearer t')).toBe(true);
    expect(posts.map((p) => p.body)).toEqual([
      '{"id":"1","data":"a"}',
      '{"id":"2","data":"busy"}',
      '{"id":"2","data":"busy"}',
      '{"id":"3","data":"bad"}',
      '{"id":"4","data":"b"}',
      '{"id":"5","data":"down"}',
      '{"id":"5","data":"down"}',
      '{"id":"6","data":"c"}',
      '{"end":true}',
    ]);
    expect(maxInFlight).toBe(1);
    sub.unsubscribe();
  });

  it("a POST answered 404 (the subscription is gone) is resent after the stream reconnects; a proxy's non-JSON 503 is retried", async () => {
    let gets = 0;
    let proxied = false;
    let stream: import('node:http').ServerResponse | undefined;
    const bodies: string[] = [];
    const url = await fakeServer(async (req, res) => {
      if (req.method === 'GET') {
        gets++;
        stream = res;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(':\n\n');
        return;
      }
      bodies.push(await body(req));
      if (gets === 1) {
        // The subscription is gone here (its stream drops too): the client resends on its next one.
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NOT_FOUND","message":"No subscription holds that channel"}');
        return stream?.destroy();
      }
      if (!proxied) return ((proxied = true), res.writeHead(503).end('<html>no upstream</html>'));
      res.writeHead(202).end('{"id":"1"}');
    });
    const c = client({ url, transport: 'sse' });
    const chat = c.channel('room');
    const sub = chat.subscribe();
    expect(await within(outcome(chat.send('x')), 10_000, 'ack')).toBe('ok');
    expect(gets).toBeGreaterThanOrEqual(2);
    expect(proxied).toBe(true);
    expect(new Set(bodies)).toEqual(new Set(['{"id":"1","data":"x"}']));
    sub.unsubscribe();
  });
});

describe('SSE: a server that keeps answering 404 while the stream lives', () => {
  it('rejects the send with NOT_FOUND after 3 resends, and sends the next message', async () => {
    const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'text/event-stream' }).write(':\n\n');
      const m = JSON.parse(await body(req)) as { id: string; data: string };
      if (m.data === 'lost')
        return void res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"code":"NOT_FOUND","message":"No subscription holds this channel"}');
      res.writeHead(202).end(JSON.stringify({ id: m.id }));
    };
    const server: Server = createServer((req, res) => void answer(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    });
    let posts = 0;
    server.on('request', (req) => req.method === 'POST' && posts++);
    const c = client({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, transport: 'sse' });
    const chat = c.channel('x');
    const sub = chat.subscribe();
    expect(await within(Promise.all([outcome(chat.send('lost')), outcome(chat.send('next'))]), 10_000, 'answers')).toEqual(['NOT_FOUND', 'ok']);
    expect(posts).toBe(4 + 1);
    sub.unsubscribe();
  });
});

describe('WebSocket: a hostile server cannot throw into the client through acks', () => {
  it('acks for unknown ids are ignored; an ack without a string messageId is a protocol violation (reconnect, resend); duplicate acks resolve', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    closers.push(() => new Promise((r) => wss.close(r)));
    let connections = 0;
    wss.on('connection', (socket) => {
      const n = ++connections;
      socket.on('message', (raw) => {
        const m = JSON.parse(wsText(raw)) as { type: string; id: string; messageId?: string };
        if (m.type === 'subscribe') return socket.send(JSON.stringify({ type: 'subscribed', id: m.id }));
        if (m.type !== 'input') return;
        if (n === 1) {
          socket.send(JSON.stringify({ type: 'input_ack', id: m.id, messageId: 'nope' }));
          socket.send(JSON.stringify({ type: 'input_error', id: m.id, messageId: 'nope', error: 'garbage' }));
          socket.send(JSON.stringify({ type: 'input_ack', id: 'unknown-sub', messageId: m.messageId }));
          socket.send(JSON.stringify({ type: 'input_ack', id: m.id, messageId: 7 }));
          return;
        }
        socket.send(JSON.stringify({ type: 'input_ack', id: m.id, messageId: m.messageId, duplicate: true }));
      });
    });
    const { port } = wss.address() as AddressInfo;
    const retries: StreamError[] = [];
    const c = client({ url: `http://127.0.0.1:${port}`, transport: 'ws', WebSocket, onRetry: (e) => retries.push(e) });
    const chat = c.channel('x');
    const sub = chat.subscribe();
    expect(await within(outcome(chat.send('hi')), 10_000, 'ack')).toBe('ok');
    expect(connections).toBe(2);
    expect(retries[0]).toMatchObject({ code: 'INTERNAL', details: { protocolViolation: true } });
    sub.unsubscribe();
  });
});
