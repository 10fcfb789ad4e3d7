/**
 * The load generator: `node dist/bench/client.main.js '<ClientSpec JSON>'`, forked by the
 * orchestrator. Real clients (`ws`, `node:http`, `@grpc/grpc-js`), one process for all
 * subscribers. It counts messages without JSON-parsing them: a WebSocket or gRPC message is
 * one value, an SSE `data:` field is one value; one message in 1,000 is parsed and checked.
 * In latency mode it reads the publish time out of each message with a byte scan.
 */
import http from 'node:http';
import net from 'node:net';
import type * as Grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import {
  checkBenchValue,
  isModuleImpl,
  isRawImpl,
  nowUs,
  type ClientCommand,
  type ClientReply,
  type ClientSpec,
  type LatencyStats,
} from './bench.protocol.js';

const spec = JSON.parse(process.argv[2]!) as ClientSpec;
/** grpc-js is loaded only by gRPC runs: a shorter start for the others. */
const grpc = (spec.transport === 'grpc' ? await import('@grpc/grpc-js') : undefined) as typeof Grpc;
const send = (reply: ClientReply): void => void process.send!(reply);

const DATA = Buffer.from('data:');
const T_MARK = Buffer.from('"t":');
const VALUE_START = Buffer.from('{"t":');
const SAMPLE_EVERY = 1000;

interface Sub {
  received: number;
  slow: boolean;
  closed: boolean;
  /** Bytes at the end of the previous SSE chunk (a `data:` may straddle two chunks). */
  tail?: Buffer;
  /** Position in `subs` and times reopened (a connection refused before its first value is retried). */
  index?: number;
  retries?: number;
  onFirst?: () => void;
  close(): void;
  pause(): void;
}

const subs: Sub[] = [];
let total = 0;
let withFirst = 0;
let cycles = 0;
let sampleChecks = 0;
let sampleErrors = 0;
let closedEarly = 0;
let closing = false;
let latencies: number[] = [];
const recordLatency = spec.mode === 'latency';

function readT(buf: Buffer, from: number): number {
  let i = buf.indexOf(T_MARK, from);
  if (i < 0) return -1;
  i += T_MARK.length;
  let t = 0;
  for (let c = buf[i]!; c >= 48 && c <= 57; c = buf[++i]!) t = t * 10 + (c - 48);
  return t;
}

function check(buf: Buffer, from: number): void {
  sampleChecks++;
  const start = buf.indexOf(VALUE_START, from);
  const end = start < 0 ? -1 : buf.indexOf(0x7d, start);
  if (end < 0 || !checkBenchValue(buf.toString('utf8', start, end + 1))) sampleErrors++;
}

/** One value arrived for `sub`; `buf` holds it from `at`. */
function value(sub: Sub, buf: Buffer, at: number, onFirst?: () => void): void {
  if (sub.received++ === 0) {
    if (sub.slow) sub.pause();
    else withFirst++;
    onFirst?.();
  }
  if (sub.slow) return;
  total++;
  if (total % SAMPLE_EVERY === 1) check(buf, at);
  if (recordLatency) {
    const t = readT(buf, at);
    if (t > 0) latencies.push(nowUs() - t);
  }
}

/** A whole message (WebSocket, gRPC) is one value. */
function onMessage(sub: Sub, buf: Buffer, onFirst?: () => void): void {
  value(sub, buf, 0, onFirst);
}

/** An SSE chunk holds any number of `data:` fields, possibly one cut in two. */
function onChunk(sub: Sub, chunk: Buffer, onFirst?: () => void): void {
  if (sub.tail) {
    const joint = Buffer.concat([sub.tail, chunk.subarray(0, DATA.length - 1)]);
    const at = joint.indexOf(DATA);
    if (at >= 0) value(sub, Buffer.concat([sub.tail, chunk.subarray(0, 256)]), at, onFirst);
  }
  for (let at = chunk.indexOf(DATA); at >= 0; at = chunk.indexOf(DATA, at + DATA.length)) value(sub, chunk, at, onFirst);
  sub.tail = chunk.subarray(Math.max(0, chunk.length - (DATA.length - 1)));
}

let reopened = 0;

function ended(sub: Sub): void {
  if (sub.closed) return;
  sub.closed = true;
  if (closing || spec.mode === 'hello') return;
  if (sub.received === 0 && sub.index !== undefined && (sub.retries ?? 0) < 3) {
    // Refused or reset before its first value (a listen backlog overflowing under thousands of
    // connects): open it again, and say so in the report.
    reopened++;
    setTimeout(() => {
      if (closing) return;
      const again = open(sub.index!, false, sub.slow, sub.onFirst);
      again.index = sub.index;
      again.retries = (sub.retries ?? 0) + 1;
      again.onFirst = sub.onFirst;
      subs[sub.index!] = again;
    }, 50);
    return;
  }
  if (!sub.slow) closedEarly++;
}

const host = spec.host;

/** The HTTP port of subscriber `index`: with a second server, odd subscribers go to it. */
const httpPort = (index: number): number => (spec.altPorts && index % 2 === 1 ? spec.altPorts.http : spec.ports.http);
/** The module's stream a subscriber opens: hello, the per-subscriber handler (`own`) or the broadcast topic. */
const moduleStream = (hello: boolean): string => (hello ? 'bench/hello' : spec.own ? 'bench/own' : 'bench/topic');
/** The raw servers' query: hello, own or none. */
const rawQuery = (hello: boolean): string => (hello ? '?hello=1' : spec.own ? '?own=1' : '');

function openWs(index: number, hello: boolean, slow: boolean, onFirst?: () => void): Sub {
  const path = isRawImpl(spec.impl) ? `/raw-ws${rawQuery(hello)}` : spec.impl === 'nest' ? '/nest-ws' : '/ws';
  const ws = new WebSocket(`ws://${host}:${httpPort(index)}${path}`, { perMessageDeflate: false });
  const sub: Sub = { received: 0, slow, closed: false, close: () => ws.terminate(), pause: () => ws.pause() };
  ws.on('open', () => {
    if (spec.impl === 'nest') ws.send(JSON.stringify({ event: 'subscribe', data: { hello } }));
    if (isModuleImpl(spec.impl)) ws.send(JSON.stringify({ type: 'subscribe', id: '1', stream: moduleStream(hello) }));
  });
  ws.on('message', (data: Buffer) => onMessage(sub, data, onFirst));
  ws.on('error', () => undefined);
  ws.on('close', () => ended(sub));
  return sub;
}

function openSse(index: number, hello: boolean, slow: boolean, onFirst?: () => void): Sub {
  const raw = isRawImpl(spec.impl) || spec.impl === 'express';
  const base = raw ? '/raw-sse' : spec.impl === 'nest' ? '/nest-sse/' : '/bench/';
  const path = raw ? `${base}${rawQuery(hello)}` : isModuleImpl(spec.impl) ? `/${moduleStream(hello)}` : `${base}${hello ? 'hello' : 'topic'}`;
  let response: http.IncomingMessage | undefined;
  const req = http.get({ host, port: httpPort(index), path, agent: false, headers: { accept: 'text/event-stream' } });
  const sub: Sub = { received: 0, slow, closed: false, close: () => req.destroy(), pause: () => response?.pause() };
  req.on('response', (res) => {
    response = res;
    if (res.statusCode !== 200) {
      req.destroy();
      return;
    }
    res.on('data', (chunk: Buffer) => onChunk(sub, chunk, onFirst));
    res.on('close', () => ended(sub));
  });
  req.on('error', () => ended(sub));
  return sub;
}

const LONGLINK_PATH = '/longlink.v1.Streams/Subscribe';
const BENCH_PATH = '/bench.v1.Bench/Subscribe';
const identity = (b: Buffer): Buffer => b;

function grpcRequest(hello: boolean): Buffer {
  if (!isModuleImpl(spec.impl)) return hello ? Buffer.from([0x08, 0x01]) : spec.own ? Buffer.from([0x10, 0x01]) : Buffer.alloc(0);
  const stream = Buffer.from(moduleStream(hello));
  return Buffer.concat([Buffer.from([0x0a, stream.length]), stream]);
}

function grpcClient(): Grpc.Client {
  return new grpc.Client(`${host}:${spec.ports.grpc}`, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
}

function openGrpc(client: Grpc.Client, hello: boolean, slow: boolean, onFirst?: () => void): Sub {
  const call = client.makeServerStreamRequest(isModuleImpl(spec.impl) ? LONGLINK_PATH : BENCH_PATH, identity, identity, grpcRequest(hello));
  const sub: Sub = { received: 0, slow, closed: false, close: () => call.cancel(), pause: () => call.pause() };
  call.on('data', (buf: Buffer) => onMessage(sub, buf, onFirst));
  call.on('error', () => ended(sub));
  call.on('end', () => ended(sub));
  return sub;
}

const clients: Grpc.Client[] = [];

function open(index: number, hello: boolean, slow: boolean, onFirst?: () => void): Sub {
  if (spec.transport === 'ws') return openWs(index, hello, slow, onFirst);
  if (spec.transport === 'sse') return openSse(index, hello, slow, onFirst);
  const channel = Math.floor(index / (spec.streamsPerChannel ?? 100));
  while (clients.length <= channel) clients.push(grpcClient());
  return openGrpc(clients[channel]!, hello, slow, onFirst);
}

function percentiles(samples: number[]): LatencyStats {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: sorted[sorted.length - 1] ?? 0 };
}

/** hello mode: `concurrency` loops of new connection → subscribe → first value → close. */
function helloLoop(): void {
  if (closing) return;
  let sub: Sub | undefined;
  let client: Grpc.Client | undefined;
  const done = (): void => {
    cycles++;
    if (cycles === 1) send({ type: 'ready' });
    sub!.close();
    client?.close();
    setImmediate(helloLoop);
  };
  if (spec.transport === 'grpc') {
    client = grpcClient();
    sub = openGrpc(client, true, false, done);
  } else {
    sub = open(0, true, false, done);
  }
}

let creditTimer: NodeJS.Timeout | undefined;

function startCredit(): void {
  const socket = net.connect(spec.ports.control, host);
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  let last = -1;
  creditTimer = setInterval(() => {
    let min = Infinity;
    for (const sub of subs) if (!sub.slow && sub.received < min) min = sub.received;
    if (min !== last && min !== Infinity) {
      last = min;
      socket.write(`${min}\n`);
    }
  }, 1);
  creditTimer.unref();
}

process.on('message', (command: ClientCommand) => {
  if (command.cmd === 'reset') {
    for (const sub of subs) if (!sub.slow) sub.received = 0;
    total = 0;
    cycles = 0;
    latencies = [];
    send({ type: 'ok', cmd: 'reset' });
  } else if (command.cmd === 'mark') {
    const slowSub = subs.find((s) => s.slow);
    send({
      type: 'mark',
      received: total,
      cycles,
      latency: recordLatency ? percentiles(latencies) : undefined,
      sampleChecks,
      sampleErrors,
      closedEarly,
      reopened,
      slowClosed: slowSub?.closed ?? false,
    });
  } else if (command.cmd === 'close') {
    closing = true;
    clearInterval(creditTimer);
    for (const sub of subs) sub.close();
    for (const client of clients) client.close();
    process.send!({ type: 'ok', cmd: 'close' } satisfies ClientReply, () => process.exit(0));
  }
});

if (spec.mode === 'hello') {
  for (let i = 0; i < (spec.concurrency ?? 100); i++) helloLoop();
} else {
  const expected = spec.subscribers;
  const onFirst = (): void => {
    if (withFirst === expected && (!spec.slow || subs.some((s) => s.slow && s.received > 0))) send({ type: 'ready' });
  };
  if (spec.mode === 'broadcast') startCredit();
  // 100 new subscribers every 5 ms: a burst of thousands of connects would overflow the
  // server's listen backlog and measure SYN retries instead.
  let next = 0;
  const batch = (): void => {
    const add = (index: number, slow: boolean): void => {
      const sub = open(index, false, slow, onFirst);
      sub.index = index;
      sub.onFirst = onFirst;
      subs.push(sub);
    };
    for (const end = Math.min(spec.subscribers, next + 100); next < end; next++) add(next, false);
    if (next < spec.subscribers) setTimeout(batch, 5);
    else if (spec.slow) add(spec.subscribers, true);
  };
  batch();
}
