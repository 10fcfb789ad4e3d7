import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { firstValueFrom, toArray, type Observable } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, StreamError, type ClientOptions, type LonglinkClient } from '../../lib/client/index.js';
import { TestRedis } from '../harness/redis-server.js';
import { until, within } from '../harness/util.js';
import { startServer, tallied, type TestServer } from './client-app.js';

/**
 * `client.channel()` over SSE (POST, PROTOCOL.md §7.4) and gRPC (`Channel`, §7.3) against the
 * real server, and gRPC framing against a raw server. Their server halves come with the SSE POST
 * (dsse) and gRPC (dgrpc) branches: run this spec once both are merged
 * (`npx vitest run test/client/client-channel.transports.spec.ts`). The WebSocket half is
 * client-channel.spec.ts.
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

function collect<T>(observable: Observable<T>, ms = 10_000): Promise<T[]> {
  return within(firstValueFrom(observable.pipe(toArray())), ms, 'stream end');
}

const outcome = (p: Promise<void>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof StreamError ? e.code : `not a StreamError: ${String(e)}`),
  );

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
let runs = 0;
const keys = (n: number) => {
  const run = `t${++runs}`;
  return range(n).map((i) => `${run}-${i}`);
};
const talliedOf = (run: string[]) => tallied.filter((k) => run.includes(k));

const KINDS = {
  sse: (s: TestServer): ClientOptions => ({ url: s.url, transport: 'sse' }),
  grpc: (s: TestServer): ClientOptions => ({ url: s.url, transport: 'grpc', grpcUrl: `127.0.0.1:${s.grpcPort}` }),
} as const;

describe.each(Object.keys(KINDS) as (keyof typeof KINDS)[])('client.channel() over %s (real server)', { timeout: 40_000 }, (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });
  const options = () => KINDS[kind](server);

  it('messages reach the handler in order; sends resolve on their acks, in order; complete() ends the input, then the output', async () => {
    const c = client(options());
    const echo = c.channel<{ echo: number; n: number } | { ended: number }, number>('duplex/echo');
    const output = collect(echo);
    const settled: number[] = [];
    await within(Promise.all(range(30).map((i) => echo.send(i).then(() => settled.push(i)))), 10_000, 'acks');
    expect(settled).toEqual(range(30));
    echo.complete();
    expect(await output).toEqual([...range(30).map((i) => ({ echo: i, n: i + 1 })), { ended: 30 }]);
  });

  it('a refused message rejects its send only', async () => {
    const c = client(options());
    const chat = c.channel<{ text: string }, { text: string }>('duplex/validated');
    const out: unknown[] = [];
    const sub = chat.subscribe((v) => out.push(v));
    const results = await Promise.all([outcome(chat.send({ text: 'a' })), outcome(chat.send({ text: '' })), outcome(chat.send({ text: 'b' }))]);
    expect(results).toEqual(['ok', 'BAD_REQUEST', 'ok']);
    await until(() => out.length === 2, 5000, 'echoes');
    sub.unsubscribe();
  });

  it('a stream without input refuses each message: BAD_REQUEST, or NOT_FOUND over SSE (PROTOCOL.md §7.1, §7.4)', async () => {
    const c = client(options());
    const oneway = c.channel('duplex/oneway');
    const sub2 = oneway.subscribe();
    // Over SSE a message addresses a channel, and only subscriptions of streams with input hold one.
    expect(await outcome(oneway.send('x'))).toBe(kind === 'sse' ? 'NOT_FOUND' : 'BAD_REQUEST');
    sub2.unsubscribe();
  });

  it('drops mid-run: unanswered messages are resent after the resubscription, each handled once, in order', async () => {
    const c = client(options());
    const tally = c.channel<{ got: string }, { key: string }>('client/tally');
    const sub = tally.subscribe();
    const run = keys(150);
    const sends: Promise<unknown>[] = [];
    let acked = 0;
    for (const [i, key] of run.entries()) {
      sends.push(tally.send({ key }).then(() => acked++));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1));
      if (i === 50 || i === 100) {
        await until(() => acked >= i - 20, 10_000, 'acks before the drop');
        c.drop();
      }
    }
    await within(Promise.all(sends), 20_000, 'every ack');
    expect(talliedOf(run)).toEqual(run);
    expect(c.reconnects).toBeGreaterThanOrEqual(2);
    sub.unsubscribe();
  });
});

describe('client.channel(): SSE and gRPC across a server restart (hub on Redis)', { timeout: 60_000 }, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  for (const kind of Object.keys(KINDS) as (keyof typeof KINDS)[]) {
    it(`${kind}: messages in flight at the restart are resent after the resubscription; each handled once, in order`, async () => {
      let server = await startServer({ hub: { redis: redis.url } });
      const { port, grpcPort } = server;
      try {
        const c = client(KINDS[kind](server));
        const tally = c.channel<{ got: string }, { key: string }>('client/tally');
        const sub = tally.subscribe();
        const run = keys(150);
        const acked: string[] = [];
        const sends: Promise<unknown>[] = [];
        const sending = (async () => {
          for (const key of run) {
            sends.push(tally.send({ key }).then(() => acked.push(key)));
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        await until(() => acked.length >= 30, 10_000, 'first acks');
        await server.close();
        server = await startServer({ port, grpcPort, hub: { redis: redis.url } });
        await sending;
        await within(Promise.all(sends), 30_000, 'every ack after the restart');
        expect(acked).toEqual(run);
        expect(talliedOf(run)).toEqual(run);
        sub.unsubscribe();
      } finally {
        await server.close();
      }
    });
  }
});

describe('client.channel(): auto fallback with the SSE POST path live', { timeout: 40_000 }, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('WebSocket does not open → SSE (messages acked by POST), back on WebSocket: every message handled once, in order', async () => {
    let attempts = 0;
    class FlakyWebSocket extends WebSocket {
      constructor(url: string, ...rest: unknown[]) {
        super(++attempts === 1 ? url.replace(/:\d+\//, ':9/') : url, ...(rest as []));
      }
    }
    const c = client({ url: server.url, transport: 'auto', WebSocket: FlakyWebSocket, ws: { connectTimeoutMs: 3000 }, autoRetryWsMs: 500 });
    const tally = c.channel<{ got: string }, { key: string }>('client/tally');
    const sub = tally.subscribe();
    const run = keys(80);
    const ackedOn: string[] = [];
    const sends: Promise<unknown>[] = [];
    for (const key of run) {
      sends.push(tally.send({ key }).then(() => ackedOn.push(c.transport)));
      await new Promise((r) => setTimeout(r, 15));
    }
    await within(Promise.all(sends), 20_000, 'every ack');
    expect(ackedOn).toContain('sse');
    await until(() => c.transport === 'ws', 5000, 'back on WebSocket');
    expect(talliedOf(run)).toEqual(run);
    sub.unsubscribe();
  });
});

describe('gRPC: a channel is the bidi Channel method of longlink.v1.Streams (PROTOCOL.md §7.3)', () => {
  type ChannelRequest = { kind: string; subscribe?: { stream: string; channel: string; lastEventId: string }; input?: { id: string; data: Buffer } };
  type ChannelCall = grpc.ServerDuplexStream<ChannelRequest, object>;

  async function fakeGrpc(channelImpl: (call: ChannelCall) => void): Promise<number> {
    const definition = protoLoader.loadSync(fileURLToPath(new URL('../../proto/longlink/v1/longlink.proto', import.meta.url)), {
      keepCase: false,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { longlink: { v1: { Streams: { service: grpc.ServiceDefinition } } } };
    const server = new grpc.Server();
    server.addService(pkg.longlink.v1.Streams.service, { Subscribe: () => undefined, Channel: channelImpl });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    closers.push(() => server.forceShutdown());
    return port;
  }

  it('subscribe first (with the channel), then one input per message; acks and refusals by id; events interleaved; half-close ends the write side', async () => {
    const received: string[] = [];
    let subscribe: { stream: string; channel: string } | undefined;
    let ended = false;
    let unavailableOnce = false;
    const port = await fakeGrpc((call) => {
      call.on('data', (m: ChannelRequest) => {
        if (m.kind === 'subscribe') {
          subscribe = m.subscribe;
          call.sendMetadata(new grpc.Metadata()); // the server holds the subscription
          return;
        }
        const { id, data } = m.input!;
        const text = Buffer.from(data).toString('utf8');
        received.push(`${id}:${text}`);
        if (text === '"bad"') {
          return call.write({ ack: { id, errorCode: 'BAD_REQUEST', errorMessage: 'nope', errorDetails: Buffer.from('{"field":"text"}') } });
        }
        if (text === '"later"' && !unavailableOnce) {
          unavailableOnce = true;
          return call.write({ ack: { id, errorCode: 'UNAVAILABLE', errorMessage: 'try again' } });
        }
        call.write({ ack: { id: '999' } }); // an ack for an id never sent: ignored
        call.write({ ack: { id, duplicate: text === '"dup"' } });
        call.write({ event: { id: `e${id}`, data: Buffer.from(JSON.stringify({ echo: JSON.parse(text) as unknown })) } });
      });
      call.on('end', () => {
        ended = true;
        call.write({ event: { id: 'end', data: Buffer.from('{"ended":true}') } });
        call.end();
      });
    });
    const c = client({ url: 'http://unused', transport: 'grpc', grpcUrl: `127.0.0.1:${port}` });
    const chat = c.channel<{ echo?: string; ended?: boolean }, string>('demo/chat', { room: 'a' });
    const out: unknown[] = [];
    let completed = false;
    chat.subscribe({ next: (v) => out.push(v), complete: () => (completed = true) });
    const bad = chat.send('bad').catch((e: unknown) => e);
    const results = await within(
      Promise.all([outcome(chat.send('a')), bad, outcome(chat.send('dup')), outcome(chat.send('later'))]),
      10_000,
      'answers',
    );
    expect(results[0]).toBe('ok');
    expect(results[1]).toMatchObject({ code: 'BAD_REQUEST', message: 'nope', details: { field: 'text' } });
    expect(results.slice(2)).toEqual(['ok', 'ok']);
    chat.complete();
    await until(() => completed, 5000, 'output completes after the half-close');
    expect(subscribe).toMatchObject({ stream: 'demo/chat', channel: chat.key });
    expect(ended).toBe(true);
    expect(received).toEqual(['1:"bad"', '2:"a"', '3:"dup"', '4:"later"', '4:"later"']);
    expect(out).toEqual([{ echo: 'a' }, { echo: 'dup' }, { echo: 'later' }, { ended: true }]);
  });

  it('unanswered messages are resent on a new call after the old one fails, after its response headers', async () => {
    const calls: string[][] = [];
    const port = await fakeGrpc((call) => {
      const mine: string[] = [];
      calls.push(mine);
      const first = calls.length === 1;
      call.on('data', (m: ChannelRequest) => {
        if (m.kind === 'subscribe') return void call.sendMetadata(new grpc.Metadata());
        mine.push(m.input!.id);
        // The first call takes the messages without answering, then fails: the client resends them.
        if (first) {
          if (mine.length === 3) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'going away' });
          return;
        }
        call.write({ ack: { id: m.input!.id, duplicate: mine.length <= 3 } });
      });
      call.on('error', () => undefined);
    });
    const c = client({ url: 'http://unused', transport: 'grpc', grpcUrl: `127.0.0.1:${port}` });
    const chat = c.channel('x');
    const sub = chat.subscribe();
    const results = await within(Promise.all([1, 2, 3].map((n) => outcome(chat.send(n)))), 10_000, 'answers');
    expect(results).toEqual(['ok', 'ok', 'ok']);
    expect(calls.map((ids) => ids)).toEqual([
      ['1', '2', '3'],
      ['1', '2', '3'],
    ]);
    sub.unsubscribe();
  });
});
