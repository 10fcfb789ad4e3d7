/**
 * client-fuzz: the client SDK against hostile servers (raw node:http SSE, raw `ws`, raw grpc-js
 * with the shipped proto) that answer every connection with random, oversized and malformed input
 * and hostile reconnect hints, for a bounded time per transport. The client's heap stays bounded,
 * it reconnects no faster than its backoff allows, and nothing is thrown uncaught.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type TransportName } from '../../lib/client/index.js';
import { grpc, hostileGrpc, hostileHttp, hostileWs, type GrpcCall, type Hostile, type Subscribe } from '../client/hostile-servers.js';
import { MiB, byMode, heapAfterGc, mib, record } from './stress.util.js';

const RUN_MS = byMode(6000, 60_000);
const SUBSCRIPTIONS = 4;
const RETRY = { initialMs: 50, maxMs: 1000 };
const MAX_MESSAGE = 256 * 1024;
/** A user who resubscribes after a terminal error waits this long (so user resubscribes cannot storm either). */
const RESUBSCRIBE_MS = 100;

let uncaught = 0;
const count = () => uncaught++;
beforeAll(() => {
  process.on('uncaughtException', count);
  process.on('unhandledRejection', count);
});
afterAll(() => {
  process.off('uncaughtException', count);
  process.off('unhandledRejection', count);
});

/** Hints and codes a hostile server sends. */
const hint = fc.oneof(fc.constantFrom(0, -1, 1e300, 99_999_999_999, 2000, 1.5), fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null));
const code = fc.oneof(
  fc.constantFrom('UNAVAILABLE', 'INTERNAL', 'RESOURCE_EXHAUSTED', 'DEADLINE_EXCEEDED', 'BAD_REQUEST', 'NOT_FOUND'),
  fc.string({ maxLength: 12 }),
);
const errorJson = fc
  .record({ code, message: fc.string({ maxLength: 40 }), details: fc.record({ retryAfterMs: hint }) })
  .map((e) => JSON.stringify(e));
const junk = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.json({ maxDepth: 3 }),
  fc.constantFrom('hello, not json', 'null', '42', '{"type":"bogus"}', '\u0000\uffff', '{'.repeat(2000)),
);
const eventId = fc.oneof(fc.nat({ max: 1e6 }).map(String), fc.string({ maxLength: 20 }));
const big = fc.integer({ min: MAX_MESSAGE + 1, max: 2 * MAX_MESSAGE });

/** One piece of an SSE body. */
const ssePiece = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(eventId, fc.json({ maxDepth: 2 })).map(([id, data]) => `id: ${id}\ndata: ${data}\n\n`) },
  { weight: 2, arbitrary: junk.map((j) => `data: ${j.replace(/[\r\n]/g, ' ')}\n\n`) },
  { weight: 2, arbitrary: hint.map((h) => `retry: ${String(h)}\n\n`) },
  { weight: 2, arbitrary: errorJson.map((e) => `event: error\ndata: ${e}\n\n`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom(':\n\n', '\r\n\r\n', 'event: complete\ndata: {}\n\n', 'event: reset\ndata: null\n\n') },
  { weight: 1, arbitrary: big.map((n) => ({ line: n })) },
);
/** The storm of the old client: an immediate end with a zero hint (a third of all answers). */
const STORM_ERROR = '{"code":"UNAVAILABLE","message":"x","details":{"retryAfterMs":0}}';
const sseAnswer = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.constant({ status: 200, type: 'text/event-stream', pieces: [`retry: 0\n\nevent: error\ndata: ${STORM_ERROR}\n\n`], holdMs: 0 }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      status: fc.constantFrom(200, 200, 200, 200, 500, 503, 429, 204, 302),
      type: fc.constantFrom('text/event-stream', 'text/event-stream', 'text/html', ''),
      pieces: fc.array(ssePiece, { maxLength: 8 }),
      /** Heartbeats for this long before the response ends. */
      holdMs: fc.nat({ max: 500 }),
    }),
  },
);

/** One WebSocket frame, or a close. */
const wsPiece = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(eventId, fc.json({ maxDepth: 2 })).map(([e, d]) => ({ next: e, data: JSON.parse(d) as unknown })) },
  { weight: 2, arbitrary: junk.map((text) => ({ text })) },
  { weight: 2, arbitrary: errorJson.map((error) => ({ error })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }).map((binary) => ({ binary })) },
  { weight: 1, arbitrary: big.map((size) => ({ size })) },
  { weight: 1, arbitrary: fc.constantFrom(1000, 1001, 1011, 4000, 4400, 4429, 4408, 4999).map((close) => ({ close })) },
);

/** Trailer values must be printable ASCII (grpc-js refuses others before sending). */
const ascii = (arb: fc.Arbitrary<string>) => arb.map((v) => v.replace(/[^\x20-\x7e]/g, ''));

/** One gRPC call: events, then a status with hostile trailers. */
const grpcAnswer = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ events: [], status: grpc.status.UNAVAILABLE, retryAfter: '0', trailerCode: 'UNAVAILABLE', details: null }) },
  {
    weight: 2,
    arbitrary: fc.record({
      events: fc.array(
        fc.oneof(
          fc.tuple(eventId, fc.json({ maxDepth: 2 })),
          fc.tuple(eventId, junk),
          big.map((n) => ['big', 'x'.repeat(n)] as const),
        ),
        { maxLength: 5 },
      ),
      status: fc.constantFrom(
        grpc.status.OK,
        grpc.status.UNAVAILABLE,
        grpc.status.INTERNAL,
        grpc.status.RESOURCE_EXHAUSTED,
        grpc.status.UNKNOWN,
        grpc.status.INVALID_ARGUMENT,
      ),
      retryAfter: ascii(hint.map(String)),
      trailerCode: fc.option(ascii(code)),
      details: fc.option(ascii(fc.oneof(errorJson, fc.string({ maxLength: 50 })))),
    }),
  },
);

const pick = <T>(arb: fc.Arbitrary<T>) => fc.sample(arb, 1)[0]!;

function sse(_req: IncomingMessage, res: ServerResponse, stop: () => boolean): void {
  const a = pick(sseAnswer);
  res.on('error', () => undefined);
  if (a.status !== 200) return void res.writeHead(a.status, { 'content-type': 'application/json' }).end(pick(fc.oneof(errorJson, junk)));
  res.writeHead(200, a.type ? { 'content-type': a.type } : {});
  for (const p of a.pieces) {
    if (typeof p === 'string') res.write(p);
    else res.write(`data: ${'x'.repeat(p.line)}`); // no newline: a line past the client's limit
  }
  const until = Date.now() + a.holdMs;
  const t = setInterval(() => (stop() || res.destroyed || Date.now() >= until ? (clearInterval(t), res.end()) : res.write(':\n\n')), 50);
}

function ws(socket: WebSocket, m: Subscribe): void {
  if (pick(fc.nat({ max: 2 })) === 0) return void socket.send(`{"type":"error","id":${JSON.stringify(m.id)},"error":${STORM_ERROR}}`);
  for (const p of fc.sample(wsPiece, pick(fc.nat({ max: 6 })))) {
    if (socket.readyState !== WebSocket.OPEN) return;
    if ('next' in p) socket.send(JSON.stringify({ type: 'next', id: m.id, eventId: p.next, data: p.data }));
    else if ('text' in p) socket.send(p.text);
    else if ('error' in p) socket.send(`{"type":"error","id":${JSON.stringify(m.id)},"error":${p.error}}`);
    else if ('binary' in p) socket.send(p.binary, { binary: true });
    else if ('size' in p) socket.send(JSON.stringify({ type: 'next', id: m.id, data: 'x'.repeat(p.size) }));
    else return socket.close(p.close);
  }
  // A connection that is not closed by a piece is cut soon after, with whatever else it carries.
  setTimeout(() => socket.readyState === WebSocket.OPEN && socket.close(1011), 200);
}

function rpc(call: GrpcCall): void {
  const a = pick(grpcAnswer);
  for (const [id, data] of a.events) call.write({ id, data: Buffer.from(data) });
  if (a.status === grpc.status.OK) return void call.end();
  const metadata = new grpc.Metadata();
  metadata.set('longlink-retry-after-ms', a.retryAfter);
  if (a.trailerCode !== null) metadata.set('longlink-error-code', a.trailerCode);
  if (a.details !== null) metadata.set('longlink-error-details', a.details);
  call.emit('error', { code: a.status, details: 'hostile', metadata });
}

describe('client-fuzz: hostile servers', () => {
  it.each(['sse', 'ws', 'grpc'] as TransportName[])(
    `%s: ${RUN_MS} ms of hostile input: bounded heap, reconnects within the backoff, nothing uncaught`,
    async (transport) => {
      let stopped = false;
      let requests = 0;
      const server: Hostile =
        transport === 'sse'
          ? await hostileHttp((req, res) => (requests++, sse(req, res, () => stopped)))
          : transport === 'ws'
            ? await hostileWs((socket, m) => (requests++, ws(socket, m)))
            : await hostileGrpc((call) => (requests++, rpc(call)));
      const heapBefore = await heapAfterGc();
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
      const uncaughtBefore = uncaught;
      const client = createClient({
        url: server.url,
        grpcUrl: server.url,
        transport,
        WebSocket,
        retry: RETRY,
        maxMessageBytes: MAX_MESSAGE,
        sse: { heartbeatMs: 1000 },
        ws: { pingMs: 500, pongTimeoutMs: 500 },
      });
      let subscribes = 0;
      const errors = new Map<string, number>();
      const subscribe = (): void => {
        if (stopped) return;
        subscribes++;
        client.stream('fuzz').subscribe({
          error: (e: { code?: string }) => {
            errors.set(String(e.code), (errors.get(String(e.code)) ?? 0) + 1);
            setTimeout(subscribe, RESUBSCRIBE_MS);
          },
          complete: () => setTimeout(subscribe, RESUBSCRIBE_MS),
        });
      };
      const started = Date.now();
      for (let i = 0; i < SUBSCRIPTIONS; i++) subscribe();
      await new Promise((r) => setTimeout(r, RUN_MS));
      stopped = true;
      const elapsed = Date.now() - started;
      await client.close();
      await server.close();
      clearInterval(sampler);
      const heapAfter = await heapAfterGc();

      // Each subscription's reconnects, all at attempt 0 (progress resets the count; violations only add),
      // draw a delay uniform in [0, initialMs) at least: mean initialMs / 2. Allowing twice the expected
      // number (4 × elapsed / initialMs) is far beyond chance, and far below a storm.
      const reconnects = requests - subscribes;
      const allowed = SUBSCRIPTIONS * Math.ceil((4 * elapsed) / RETRY.initialMs);
      const scenario = `client-fuzz ${RUN_MS / 1000} s`;
      const okRate = record({
        scenario,
        transport,
        figure: 'reconnects (server requests − user subscribes)',
        value: `${reconnects} (${requests} − ${subscribes})`,
        limit: `≤ ${allowed}`,
        ok: reconnects <= allowed,
      });
      const okPeak = record({
        scenario,
        transport,
        figure: 'heap peak over start',
        value: mib(peak - heapBefore),
        limit: '≤ 128 MiB',
        ok: peak - heapBefore <= 128 * MiB,
      });
      const okHeap = record({
        scenario,
        transport,
        figure: 'heap after GC',
        value: `${heapAfter >= heapBefore ? '+' : ''}${mib(heapAfter - heapBefore)}`,
        limit: '≤ +16 MiB',
        ok: heapAfter - heapBefore <= 16 * MiB,
      });
      const thrown = uncaught - uncaughtBefore;
      record({ scenario, transport, figure: 'uncaught exceptions / rejections', value: String(thrown), limit: '0', ok: thrown === 0 });
      record({
        scenario,
        transport,
        figure: 'terminal errors (resubscribed)',
        value: JSON.stringify(Object.fromEntries(errors)).slice(0, 100),
        limit: '-',
        ok: true,
      });
      expect(thrown).toBe(0);
      expect(okRate).toBe(true);
      expect(okPeak).toBe(true);
      expect(okHeap).toBe(true);
      expect(requests).toBeGreaterThan(SUBSCRIPTIONS); // it did reconnect: the servers were hostile
    },
  );
});
