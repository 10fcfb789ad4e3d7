import { firstValueFrom, toArray, type Observable } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, defineStream, StreamError, type ClientOptions, type LonglinkClient } from '../../lib/client/index.js';
import { INPUT_CHANNEL } from '../../lib/protocol/input.protocol.js';
import { WsTransport } from '../../lib/index.js';
import { TestRedis } from '../harness/redis-server.js';
import { until, within } from '../harness/util.js';
import { startServer, tallied, type TestServer } from './client-app.js';

/**
 * `client.channel()` over the real WebSocket server (PROTOCOL.md §7.2) with the package's
 * client: order, acks, refusals, half-close, and exactly once into the handler across drops,
 * a server restart and transport switches. The SSE and gRPC halves are in
 * client-channel.transports.spec.ts (their servers come with the SSE POST and gRPC branches)
 * and, against raw servers, client-channel.framing.spec.ts.
 */

const FAST_RETRY = { initialMs: 20, maxMs: 200 };
const clients: LonglinkClient[] = [];
function client(options: ClientOptions): LonglinkClient {
  const c = createClient({ retry: FAST_RETRY, ...options });
  clients.push(c);
  return c;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function collect<T>(observable: Observable<T>, ms = 10_000): Promise<T[]> {
  return within(firstValueFrom(observable.pipe(toArray())), ms, 'stream end');
}

/** A send's outcome, as a value. */
const outcome = (p: Promise<void>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof StreamError ? e.code : `not a StreamError: ${String(e)}`),
  );

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Message keys of one run, unique across the spec (tallied is shared by the server instances). */
let runs = 0;
const keys = (n: number) => {
  const run = `r${++runs}`;
  return range(n).map((i) => `${run}-${i}`);
};
const talliedOf = (run: string[]) => tallied.filter((k) => run.includes(k));

/** A WebSocket constructor that counts the client messages it sends. */
function countingWebSocket(counter: { inputs: number }) {
  return class extends WebSocket {
    override send(data: string, ...rest: unknown[]): void {
      if (typeof data === 'string' && data.startsWith('{"type":"input"')) counter.inputs++;
      (super.send as (...a: unknown[]) => void)(data, ...rest);
    }
  };
}

describe('client.channel() over WebSocket', { timeout: 40_000 }, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });
  const ws = (extra: Partial<ClientOptions> = {}) => client({ url: server.url, transport: 'ws', WebSocket, ...extra });

  it('messages reach the handler in order; each send resolves on its ack; complete() ends the input, then the output', async () => {
    const c = ws();
    const echo = c.channel<{ echo: number; n: number } | { ended: number }, number>('duplex/echo');
    expect(echo.key).toMatch(INPUT_CHANNEL);
    const output = collect(echo);
    const settled: number[] = [];
    const sends = range(50).map((i) => echo.send(i).then(() => settled.push(i)));
    await Promise.all(sends);
    expect(settled).toEqual(range(50)); // acks resolve in call order
    echo.complete();
    const values = await output;
    expect(values).toEqual([...range(50).map((i) => ({ echo: i, n: i + 1 })), { ended: 50 }]);
  });

  it('a message sent before the output is subscribed waits for the subscription', async () => {
    const c = ws();
    const echo = c.channel<{ echo: string }, string>('duplex/echo');
    const sent = echo.send('early');
    const out: unknown[] = [];
    const sub = echo.subscribe((v) => out.push(v));
    await sent;
    await until(() => out.length === 1, 5000, 'echo');
    expect(out).toEqual([{ echo: 'early', n: 1 }]);
    sub.unsubscribe();
  });

  it('a refused message rejects its send only (StreamError BAD_REQUEST); the channel goes on', async () => {
    const c = ws();
    const chat = c.channel<{ text: string }, { text: string }>('duplex/validated');
    const out: unknown[] = [];
    const sub = chat.subscribe((v) => out.push(v));
    const refused = chat.send({ text: '' }).catch((e: unknown) => e);
    const results = await Promise.all([outcome(chat.send({ text: 'a' })), refused, outcome(chat.send({ text: 'b' }))]);
    expect(results[0]).toBe('ok');
    expect(results[1]).toBeInstanceOf(StreamError);
    expect(results[1]).toMatchObject({ code: 'BAD_REQUEST', message: 'text should not be empty' });
    expect(results[2]).toBe('ok');
    await until(() => out.length === 2, 5000, 'two echoes');
    expect(out).toEqual([
      { text: 'a', isDto: true },
      { text: 'b', isDto: true },
    ]);
    sub.unsubscribe();
  });

  it('a stream without input refuses each message (BAD_REQUEST); its output goes on', async () => {
    const c = ws();
    const oneway = c.channel('duplex/oneway', { a: 1 });
    const out: unknown[] = [];
    const sub = oneway.subscribe((v) => out.push(v));
    expect(await outcome(oneway.send('x'))).toBe('BAD_REQUEST');
    expect(out).toEqual([{ params: { a: 1 } }]);
    sub.unsubscribe();
  });

  it('typed by a contract with an input type', async () => {
    const contract = defineStream<Record<string, never>, { echo: { v: number }; n: number }, { v: number }>('duplex/echo');
    const c = ws();
    const echo = c.channel(contract);
    const out: number[] = [];
    const sub = echo.subscribe((v) => out.push(v.echo.v));
    await echo.send({ v: 1 });
    // @ts-expect-error: the contract's input type is { v: number }
    await echo.send('wrong');
    await until(() => out.length === 2, 5000, 'echoes');
    expect(out[0]).toBe(1);
    sub.unsubscribe();
  });

  it('bounded: past maxPending, send rejects at once with RESOURCE_EXHAUSTED; not JSON, too large and after complete() reject with BAD_REQUEST', async () => {
    const c = ws();
    const echo = c.channel<unknown, unknown>('duplex/echo', {}, { maxPending: 3, maxMessageBytes: 100 });
    const waiting = [echo.send(1), echo.send(2), echo.send(3)];
    const over = await echo.send(4).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(StreamError);
    expect(over).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(await outcome(echo.send(undefined))).toBe('BAD_REQUEST');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(await outcome(echo.send(cyclic))).toBe('BAD_REQUEST');
    const output = collect(echo);
    await Promise.all(waiting);
    expect(await outcome(echo.send('x'.repeat(99)))).toBe('BAD_REQUEST'); // 101 bytes of JSON
    expect(await outcome(echo.send('é'.repeat(48)))).toBe('ok'); // 98 bytes of UTF-8
    echo.complete();
    expect(await outcome(echo.send(5))).toBe('BAD_REQUEST');
    expect((await output).at(-1)).toEqual({ ended: 4 });
  });

  it('unsubscribing ends the channel: messages without an answer reject with UNAVAILABLE', async () => {
    const c = ws();
    const echo = c.channel('duplex/gated');
    const { gate } = await import('../fixtures/duplex.js');
    gate.closed = true;
    try {
      const sub = echo.subscribe();
      const pending = outcome(echo.send('held'));
      await until(() => gate.seen > 0, 5000, 'message at the gate');
      sub.unsubscribe();
      expect(await pending).toBe('UNAVAILABLE');
    } finally {
      gate.open();
    }
  });

  it('drops mid-run: unanswered messages are resent after the resubscription, each handled once (dedup), in order', async () => {
    const counter = { inputs: 0 };
    const c = ws({ WebSocket: countingWebSocket(counter) });
    const tally = c.channel<{ got: string }, { key: string }>('client/tally');
    const got: string[] = [];
    const sub = tally.subscribe((v) => got.push(v.got));
    const run = keys(300);
    const sends: Promise<unknown>[] = [];
    let acked = 0;
    for (const [i, key] of run.entries()) {
      sends.push(tally.send({ key }).then(() => acked++));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1));
      if (i === 100 || i === 200) {
        // Drop while messages are in flight: some were handled, their acks lost with the connection.
        await until(() => acked >= i - 30, 5000, 'acks before the drop');
        c.drop();
      }
    }
    await within(Promise.all(sends), 15_000, 'every ack');
    expect(talliedOf(run)).toEqual(run);
    // The echoes carry no event id: those written to a dropped connection are gone; the rest keep their order.
    const echoed = got.filter((k) => run.includes(k));
    expect(echoed).toEqual(run.filter((k) => echoed.includes(k)));
    expect(c.reconnects).toBeGreaterThanOrEqual(2);
    expect(counter.inputs).toBeGreaterThan(run.length); // some were sent twice
    sub.unsubscribe();
  });

  it('complete() waits for every answer, and is resent after a drop', async () => {
    const c = ws();
    const echo = c.channel<{ ended?: number }, number>('duplex/echo');
    const output = collect(echo);
    const sends = range(20).map((i) => echo.send(i));
    echo.complete();
    c.drop();
    await Promise.all(sends);
    const values = await output;
    expect(values.at(-1)).toEqual({ ended: expect.any(Number) as unknown });
  });

  it('switchTransport ws → sse → ws while sending: every message handled once, in order', async () => {
    const c = client({ url: server.url, transport: 'auto', WebSocket });
    const tally = c.channel<{ got: string }, { key: string }>('client/tally');
    const sub = tally.subscribe();
    const run = keys(120);
    const sends: Promise<void>[] = [];
    for (const [i, key] of run.entries()) {
      sends.push(tally.send({ key }));
      if (i === 40) c.switchTransport('sse');
      if (i === 80) c.switchTransport('ws');
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await within(Promise.all(sends), 20_000, 'every ack');
    expect(talliedOf(run)).toEqual(run);
    sub.unsubscribe();
  });

  it('auto: WebSocket does not open → SSE, then back on WebSocket; messages sent throughout are handled once, in order', async () => {
    let attempts = 0;
    class FlakyWebSocket extends WebSocket {
      constructor(url: string, ...rest: unknown[]) {
        super(++attempts === 1 ? url.replace(/:\d+\//, ':9/') : url, ...(rest as []));
      }
    }
    const c = client({ url: server.url, transport: 'auto', WebSocket: FlakyWebSocket, ws: { connectTimeoutMs: 3000 }, autoRetryWsMs: 300 });
    const tally = c.channel<{ got: string }, { key: string }>('client/tally');
    const sub = tally.subscribe();
    const run = keys(60);
    const seen: string[] = [];
    const sends: Promise<void>[] = [];
    for (const key of run) {
      sends.push(tally.send({ key }));
      if (seen.at(-1) !== c.transport) seen.push(c.transport);
      await new Promise((r) => setTimeout(r, 15));
    }
    await within(Promise.all(sends), 20_000, 'every ack');
    await until(() => c.transport === 'ws', 5000, 'back on WebSocket');
    expect(seen).toContain('sse');
    expect(talliedOf(run)).toEqual(run);
    expect(server.app.get(WsTransport).connectionCount).toBeLessThanOrEqual(1);
    sub.unsubscribe();
  });
});

describe('client.channel(): server restart on the same port (hub on Redis: the dedup window outlives the instance)', { timeout: 60_000 }, () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  for (const transport of ['ws', 'auto'] as const) {
    it(`${transport}: messages in flight at the restart are resent after the resubscription; each handled once, in order`, async () => {
      let server = await startServer({ hub: { redis: redis.url } });
      const { port, grpcPort } = server;
      try {
        const c = client({ url: server.url, transport, WebSocket, autoRetryWsMs: 300 });
        const tally = c.channel<{ got: string }, { key: string }>('client/tally');
        const sub = tally.subscribe();
        const run = keys(200);
        const acked: string[] = [];
        const sends: Promise<unknown>[] = [];
        // One message every 5 ms, before, during and after the restart.
        const sending = (async () => {
          for (const key of run) {
            sends.push(tally.send({ key }).then(() => acked.push(key)));
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        await until(() => acked.length >= 50, 10_000, 'first acks');
        await server.close();
        server = await startServer({ port, grpcPort, hub: { redis: redis.url } });
        await sending;
        await within(Promise.all(sends), 20_000, 'every ack after the restart');
        expect(acked).toEqual(run);
        expect(talliedOf(run)).toEqual(run);
        expect(c.reconnects).toBeGreaterThanOrEqual(1);
        sub.unsubscribe();
      } finally {
        await server.close();
      }
    });
  }
});
