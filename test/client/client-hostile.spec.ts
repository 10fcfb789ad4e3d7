/**
 * The client against servers that break the protocol (raw servers, real sockets): malformed and
 * oversized input is a protocol violation (a StreamError, the connection dropped and retried with
 * backoff), never an exception in the user's process.
 */
import { EventSource } from 'eventsource';
import { firstValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, StreamError, type ClientOptions, type LonglinkClient } from '../../lib/client/index.js';
import { until, within } from '../harness/util.js';
import { grpc, grpcFail, hostileGrpc, hostileHttp, hostileWs, type Hostile } from './hostile-servers.js';

const RETRY = { initialMs: 20, maxMs: 100 };
const servers: Hostile[] = [];
const clients: LonglinkClient[] = [];
/** Every StreamError a client reconnected after. */
let retried: StreamError[] = [];
/** Exceptions nobody caught, while a test runs (vitest would report them too, after the fact). */
let uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);
beforeEach(() => {
  retried = [];
  uncaught = [];
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});
function client(options: ClientOptions): LonglinkClient {
  const c = createClient({ retry: RETRY, onRetry: (e) => retried.push(e), ...options });
  clients.push(c);
  return c;
}
const serve = <T extends Hostile>(s: T): T => (servers.push(s), s);
const collect = <T>(c: LonglinkClient, name: string) => within(firstValueFrom(c.stream<T>(name).pipe(toArray())), 10_000, 'stream end');
const violations = () => retried.filter((e) => e.code === 'INTERNAL' && (e.details as { protocolViolation?: boolean }).protocolViolation);

describe('client: malformed WebSocket frames', () => {
  const FRAMES: (string | Buffer)[] = [
    'hello, not json',
    'null',
    '42',
    '"x"',
    '[1]',
    '{"foo":1}',
    '{"type":"bogus","id":"1"}',
    '{"type":"next","id":"1","eventId":{"x":1}}',
    Buffer.from([1, 2, 3]),
  ];

  it('each is a protocol violation (INTERNAL, details.protocolViolation): the connection is replaced and the stream resumes', async () => {
    const server = serve(
      await hostileWs((socket, m, n) => {
        if (n <= FRAMES.length) return socket.send(FRAMES[n - 1]!, { binary: Buffer.isBuffer(FRAMES[n - 1]) });
        socket.send(JSON.stringify({ type: 'next', id: m.id, eventId: '1', data: { n: 1 } }));
        socket.send(JSON.stringify({ type: 'complete', id: m.id }));
      }),
    );
    const c = client({ url: server.url, transport: 'ws', WebSocket });
    expect(await collect(c, 'x')).toEqual([{ n: 1 }]);
    expect(violations()).toHaveLength(FRAMES.length);
    expect(violations()[0]!.message).toMatch(/^Protocol violation: a WebSocket message is not JSON/);
    expect(uncaught).toEqual([]);
  });

  it('a frame past maxMessageBytes (ws maxPayload; default 1 MiB) is refused before it is buffered', async () => {
    const big = JSON.stringify({ type: 'next', id: '1', eventId: '1', data: 'x'.repeat(1024 * 1024 + 10) });
    const server = serve(
      await hostileWs((socket, m, n) => {
        if (n <= 2) return socket.send(big.replace('"id":"1"', `"id":"${m.id}"`));
        socket.send(JSON.stringify({ type: 'complete', id: m.id }));
      }),
    );
    const c = client({ url: server.url, transport: 'ws', WebSocket });
    expect(await collect(c, 'x')).toEqual([]);
    expect(violations().map((e) => e.message)).toEqual([
      'Protocol violation: Max payload size exceeded',
      'Protocol violation: Max payload size exceeded',
    ]);
    // The option sets it: 1000 bytes refuses a 2 KB message.
    const server2 = serve(await hostileWs((socket, m) => socket.send(JSON.stringify({ type: 'next', id: m.id, data: 'y'.repeat(2000) }))));
    const c2 = client({ url: server2.url, transport: 'ws', WebSocket, maxMessageBytes: 1000, retry: { ...RETRY, maxAttempts: 0 } });
    await expect(collect(c2, 'x')).rejects.toMatchObject({ code: 'INTERNAL', message: 'Protocol violation: Max payload size exceeded' });
    expect(uncaught).toEqual([]);
  });

  it('repeated violations back off exponentially even when each connection makes progress', async () => {
    let eventId = 0;
    const server = serve(
      await hostileWs((socket, m) => {
        socket.send(JSON.stringify({ type: 'next', id: m.id, eventId: String(++eventId), data: {} }));
        socket.send('hello, not json');
      }),
    );
    const delays: number[] = [];
    const c = client({
      url: server.url,
      transport: 'ws',
      WebSocket,
      retry: { initialMs: 10, maxMs: 80, jitter: 'none' },
      onRetry: (_e, _s, ms) => delays.push(ms),
    });
    const sub = c.stream('x').subscribe({ error: () => undefined });
    await until(() => delays.length >= 6, 5000, 'six violations');
    sub.unsubscribe();
    expect(delays.slice(0, 6)).toEqual([10, 20, 40, 80, 80, 80]);
    expect(uncaught).toEqual([]);
  });
});

describe('client: malformed and oversized SSE', () => {
  it('non-JSON data: is a protocol violation, not "Connection lost" (fetch and EventSource paths)', async () => {
    const server = serve(
      await hostileHttp((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('id: 1\ndata: hello, not json\n\n');
      }),
    );
    for (const extra of [{}, { EventSource }]) {
      const c = client({ url: server.url, transport: 'sse', retry: { ...RETRY, maxAttempts: 1 }, ...extra });
      const error = await collect(c, 'x').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StreamError);
      expect(error).toMatchObject({ code: 'INTERNAL', message: 'Protocol violation: SSE data is not JSON', details: { protocolViolation: true } });
    }
    expect(uncaught).toEqual([]);
  });

  it('an endless data: line is cut at maxMessageBytes with a violation, in linear time', async () => {
    const CHUNK = 'x'.repeat(64 * 1024);
    let sent = 0;
    let requests = 0;
    const server = serve(
      await hostileHttp((_req, res) => {
        if (++requests > 1) return void res.writeHead(200, { 'content-type': 'text/event-stream' }).end('event: complete\ndata: {}\n\n');
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: ');
        // 64 MiB at most, as fast as the client reads; stops when the client goes away.
        const pump = () => {
          while (sent < 64 * 1024 * 1024 && !res.destroyed) {
            sent += CHUNK.length;
            if (!res.write(CHUNK)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => res.destroy());
        pump();
      }),
    );
    const started = Date.now();
    const c = client({ url: server.url, transport: 'sse', maxMessageBytes: 2 * 1024 * 1024 });
    expect(await collect(c, 'x')).toEqual([]);
    expect(violations().map((e) => e.message)).toEqual(['Protocol violation: an SSE line longer than maxMessageBytes (2097152)']);
    expect(sent).toBeLessThan(16 * 1024 * 1024); // the limit plus what sockets buffer, not the whole 64 MiB
    expect(Date.now() - started).toBeLessThan(5000);
    expect(uncaught).toEqual([]);
  });

  it('an event whose data: lines add up past maxMessageBytes is a violation too', async () => {
    const server = serve(
      await hostileHttp((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`${'data: 1234567890\n'.repeat(200)}\n`);
      }),
    );
    const c = client({ url: server.url, transport: 'sse', maxMessageBytes: 1000, retry: { ...RETRY, maxAttempts: 0 } });
    await expect(collect(c, 'x')).rejects.toMatchObject({
      code: 'INTERNAL',
      message: 'Protocol violation: an SSE event larger than maxMessageBytes (1000)',
    });
  });

  it('a refusal with an endless body is read up to maxMessageBytes; a 200 that is not an event stream is a violation', async () => {
    let n = 0;
    const server = serve(
      await hostileHttp((_req, res) => {
        if (++n === 1) {
          res.writeHead(500, { 'content-type': 'application/json' });
          const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('x'.repeat(64 * 1024))), 1);
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>');
      }),
    );
    const c = client({ url: server.url, transport: 'sse', maxMessageBytes: 100_000, retry: { ...RETRY, maxAttempts: 1 } });
    await expect(collect(c, 'x')).rejects.toMatchObject({
      code: 'INTERNAL',
      message: 'Protocol violation: a 200 answer of type text/html, not text/event-stream',
    });
    expect(retried.map((e) => e.code)).toEqual(['INTERNAL']); // the 500, its body not JSON
  });
});

describe('client: malformed gRPC events', () => {
  it('event data that is not JSON is a protocol violation; UNIMPLEMENTED (not a longlink server) is terminal NOT_FOUND, INVALID_ARGUMENT terminal BAD_REQUEST', async () => {
    const server = serve(
      await hostileGrpc((call, n) => {
        if (n === 1) return void call.write({ id: '1', data: Buffer.from('hello, not json') });
        call.write({ id: '2', data: Buffer.from('{"n":2}') });
        call.end();
      }),
    );
    const c = client({ url: 'http://unused', transport: 'grpc', grpcUrl: server.url });
    expect(await collect(c, 'x')).toEqual([{ n: 2 }]);
    expect(violations().map((e) => e.message)).toEqual(['Protocol violation: gRPC event data is not JSON']);
    const other = serve(await hostileGrpc((call) => grpcFail(call, grpc.status.UNIMPLEMENTED)));
    const c2 = client({ url: 'http://unused', transport: 'grpc', grpcUrl: other.url });
    await expect(collect(c2, 'x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(c2.reconnects).toBe(0);
    // INVALID_ARGUMENT without the longlink trailer (e.g. grpc-js failing to decode a request) is BAD_REQUEST: permanent.
    const invalid = serve(await hostileGrpc((call) => grpcFail(call, grpc.status.INVALID_ARGUMENT)));
    const c3 = client({ url: 'http://unused', transport: 'grpc', grpcUrl: invalid.url });
    await expect(collect(c3, 'x')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(c3.reconnects).toBe(0);
    expect(uncaught).toEqual([]);
  });
});
