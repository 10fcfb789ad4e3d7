import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Controller, Module, ValidationPipe, type INestApplication, type Type as NestType } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { IsNotEmpty, IsString } from 'class-validator';
import type { Type } from 'protobufjs';
import { Observable, map } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GrpcTransport,
  LonglinkModule,
  Stream,
  StreamInput,
  StreamParams,
  StreamTracker,
  type LonglinkModuleOptions,
  type StreamInputMessage,
} from '../../lib/index.js';
import { writePaths } from '../../lib/core/write-paths.js';
import { DuplexModule, gate } from '../fixtures/duplex.js';
import { toStruct } from '../harness/grpc.harness.js';
import { deferred, until, within } from '../harness/util.js';

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const LOADER = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true };
const DUPLEX_PROTO = root('test/fixtures/protos/duplex/v1/duplex.proto');

type Ack = { id: string; duplicate?: boolean; errorCode?: string; errorMessage?: string; errorDetails?: Buffer };
type Response = { event?: { id: string; data: Buffer; reset?: boolean }; ack?: Ack };
type Duplex<Req, Res> = grpc.ClientDuplexStream<Req, Res>;

class ChatIn {
  @IsString()
  @IsNotEmpty()
  text!: string;
}

/** A two-way stream bound to the typed bidi method `duplex.v1.Duplex/Chat`. */
@Controller('typed')
class TypedController {
  @Stream('chat', { input: true, grpc: { service: 'Duplex', method: 'Chat' } })
  chat(
    @StreamParams() params: { room?: string },
    @StreamInput({ envelope: true, type: ChatIn }, new ValidationPipe({ transform: true })) input$: Observable<StreamInputMessage<ChatIn>>,
  ): Observable<unknown> {
    let n = 0;
    return input$.pipe(map((m) => ({ room: params.room ?? '', text: m.data.text, n: ++n, id: m.id })));
  }
}

function clients(port: number) {
  const definition = protoLoader.loadSync([root('proto/longlink/v1/longlink.proto'), DUPLEX_PROTO], LOADER);
  const pkg = grpc.loadPackageDefinition(definition) as never as {
    longlink: {
      v1: { Streams: new (a: string, c: grpc.ChannelCredentials) => grpc.Client & { Channel(m?: grpc.Metadata): Duplex<object, Response> } };
    };
    duplex: {
      v1: {
        Duplex: new (a: string, c: grpc.ChannelCredentials) => grpc.Client & { Chat(m?: grpc.Metadata): Duplex<object, Record<string, unknown>> };
      };
    };
  };
  const address = `127.0.0.1:${port}`;
  return {
    streams: new pkg.longlink.v1.Streams(address, grpc.credentials.createInsecure()),
    duplex: new pkg.duplex.v1.Duplex(address, grpc.credentials.createInsecure()),
  };
}

/** One call, every response recorded. */
function record<Res>(call: Duplex<object, Res>) {
  const responses: Res[] = [];
  const status = deferred<grpc.StatusObject>();
  let statusSeen: grpc.StatusObject | undefined;
  call.on('data', (r: Res) => responses.push(r));
  call.on('error', () => undefined); // the status says how it ended
  call.on('status', (s: grpc.StatusObject) => {
    statusSeen = s;
    status.resolve(s);
  });
  return { call, responses, status: status.promise, ended: () => statusSeen };
}

const json = (data: unknown) => Buffer.from(JSON.stringify(data), 'utf8');
const acksOf = (responses: Response[]) => responses.filter((r) => r.ack).map((r) => r.ack!);
const eventsOf = (responses: Response[]) => responses.filter((r) => r.event).map((r) => JSON.parse(r.event!.data.toString('utf8')) as unknown);

async function startApp(options: LonglinkModuleOptions, ...modules: NestType[]): Promise<INestApplication> {
  @Module({ imports: [LonglinkModule.forRoot(options), DuplexModule, ...modules] as never[] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
  await app.init();
  return app;
}

/** Two-way streams over gRPC with a real `@grpc/grpc-js` client (PROTOCOL.md §7.3). */
describe('two-way streams over gRPC', () => {
  let app: INestApplication;
  let c: ReturnType<typeof clients>;
  beforeAll(async () => {
    @Module({ controllers: [TypedController] })
    class TypedModule {}
    app = await startApp(
      { grpc: { url: '127.0.0.1:0', protoPath: DUPLEX_PROTO, package: 'duplex.v1' }, input: { maxMessageBytes: 64 * 1024 } },
      TypedModule,
    );
    c = clients(app.get(GrpcTransport).port);
  });
  afterAll(async () => {
    c?.streams.close();
    c?.duplex.close();
    await app?.close();
  });

  it('Channel: messages reach the handler in order, each acked in order, a resent id acked as duplicate, half-close completes the input', async () => {
    const before = { ...writePaths };
    const r = record(c.streams.Channel());
    r.call.write({ subscribe: { stream: 'duplex/echo', params: toStruct({}) } });
    for (let i = 1; i <= 20; i++) r.call.write({ input: { id: `m${i}`, data: json({ i }) } });
    r.call.write({ input: { id: 'm3', data: json({ i: 3 }) } });
    r.call.end();
    const status = await within(r.status, 5000, 'status');
    expect(status.code, status.details).toBe(grpc.status.OK);
    const acks = acksOf(r.responses);
    expect(acks.map((a) => a.id)).toEqual([...Array.from({ length: 20 }, (_, i) => `m${i + 1}`), 'm3']);
    expect(acks.slice(0, 20).every((a) => !a.duplicate && !a.errorCode)).toBe(true);
    expect(acks.at(-1)).toMatchObject({ id: 'm3', duplicate: true });
    expect(eventsOf(r.responses)).toEqual([...Array.from({ length: 20 }, (_, i) => ({ echo: { i: i + 1 }, n: i + 1 })), { ended: 20 }]);
    // Events and acks take the direct path (framed once, written to the HTTP/2 stream).
    expect(writePaths.grpcDirect - before.grpcDirect).toBe(21 + 21);
    expect(writePaths.grpcFallback - before.grpcFallback).toBe(0);
  });

  it('Channel: with a channel, an id acked on an earlier call is acked as duplicate on the next one and not handed over again', async () => {
    const channel = 'grpcChannel_0123456789abcdef';
    const first = record(c.streams.Channel());
    first.call.write({ subscribe: { stream: 'duplex/echo', channel } });
    first.call.write({ input: { id: 'x1', data: json('once') } });
    await until(() => acksOf(first.responses).length === 1 && eventsOf(first.responses).length === 1, 5000, 'first call acked');
    first.call.cancel();
    await within(first.status, 5000, 'first call ended');
    const second = record(c.streams.Channel());
    second.call.write({ subscribe: { stream: 'duplex/echo', channel } });
    second.call.write({ input: { id: 'x1', data: json('once') } });
    second.call.write({ input: { id: 'x2', data: json('twice') } });
    second.call.end();
    const s = await within(second.status, 5000, 'second call status');
    expect(s.code, s.details).toBe(grpc.status.OK);
    expect(acksOf(second.responses)).toEqual([{ id: 'x1', duplicate: true }, { id: 'x2' }]);
    expect(eventsOf(second.responses)).toEqual([{ echo: 'twice', n: 1 }, { ended: 1 }]);
  });

  it('Channel: the pipes run per message; a refused message gets its refusal and the call goes on', async () => {
    const r = record(c.streams.Channel());
    r.call.write({ subscribe: { stream: 'duplex/validated' } });
    r.call.write({ input: { id: '1', data: json({ text: '' }) } });
    r.call.write({ input: { id: '2', data: json({ text: 'hi', extra: 1 }) } });
    r.call.write({ input: { id: '3', data: json({ text: 'ok' }) } });
    await until(() => acksOf(r.responses).length === 3 && eventsOf(r.responses).length === 1, 5000, 'three answers and the event');
    const [first, second, third] = acksOf(r.responses);
    expect(first).toMatchObject({ id: '1', errorCode: 'BAD_REQUEST' });
    expect(first!.errorMessage).toMatch(/text should not be empty/);
    expect(second).toMatchObject({ id: '2', errorCode: 'BAD_REQUEST' });
    expect(third).toEqual({ id: '3' });
    expect(eventsOf(r.responses)).toEqual([{ text: 'ok', isDto: true }]);
    expect(r.ended()).toBeUndefined();
    r.call.end();
    expect((await within(r.status, 5000, 'status')).code).toBe(grpc.status.OK);
  });

  it('Channel: refuses per message (one-way stream, oversized data, bad id, bad JSON, a second subscribe) without ending the call', async () => {
    const oneway = record(c.streams.Channel());
    oneway.call.write({ subscribe: { stream: 'duplex/oneway', params: toStruct({ a: 1 }) } });
    oneway.call.write({ input: { id: 'a', data: json(1) } });
    const r = record(c.streams.Channel());
    r.call.write({ subscribe: { stream: 'duplex/envelope' } });
    r.call.write({ input: { id: 'big', data: json('x'.repeat(70_000)) } });
    r.call.write({ input: { id: 'has space', data: json(1) } });
    r.call.write({ input: { id: 'j', data: Buffer.from('{"oops"') } });
    r.call.write({ input: { id: 'p', data: Buffer.from('{"__proto__":{"x":1}}') } });
    r.call.write({ subscribe: { stream: 'duplex/echo' } });
    r.call.write({});
    r.call.write({ input: { id: 'd', data: json({ ok: true }) } });
    await until(() => acksOf(r.responses).length === 7 && eventsOf(r.responses).length === 1, 5000, 'seven answers and the event');
    await until(() => acksOf(oneway.responses).length === 1 && eventsOf(oneway.responses).length === 1, 5000, 'one-way answer');
    expect(acksOf(oneway.responses)).toEqual([
      { id: 'a', errorCode: 'BAD_REQUEST', errorMessage: 'Stream "duplex/oneway" takes no client messages' },
    ]);
    expect(eventsOf(oneway.responses)).toEqual([{ params: { a: 1 } }]);
    const acks = acksOf(r.responses);
    expect(acks[0]).toMatchObject({ id: 'big', errorCode: 'BAD_REQUEST', errorMessage: 'Message exceeds 65536 bytes' });
    expect(JSON.parse(acks[0]!.errorDetails!.toString('utf8'))).toEqual({ limitBytes: 65536 });
    expect(acks[1]).toMatchObject({ id: '', errorCode: 'BAD_REQUEST' });
    expect(acks[2]).toMatchObject({ id: 'j', errorCode: 'BAD_REQUEST', errorMessage: 'Message data is not valid JSON' });
    expect(acks[3]).toMatchObject({ id: 'p', errorCode: 'BAD_REQUEST', errorMessage: 'Forbidden parameter key "__proto__"' });
    expect(acks[4]).toMatchObject({ id: '', errorCode: 'BAD_REQUEST', errorMessage: 'Only input messages may follow the subscribe message' });
    expect(acks[5]).toMatchObject({ id: '', errorCode: 'BAD_REQUEST' });
    expect(acks[6]).toEqual({ id: 'd' });
    expect(eventsOf(r.responses)).toMatchObject([{ id: 'd', data: { ok: true } }]);
    expect(r.ended()).toBeUndefined();
    expect(oneway.ended()).toBeUndefined();
    oneway.call.cancel();
    r.call.cancel();
  });

  it('Channel: a first message that does not subscribe, no message at all, an unknown stream or a bad channel end the call', async () => {
    const notSubscribe = record(c.streams.Channel());
    notSubscribe.call.write({ input: { id: 'x', data: json(1) } });
    const silent = record(c.streams.Channel());
    silent.call.end();
    const unknown = record(c.streams.Channel());
    unknown.call.write({ subscribe: { stream: 'duplex/nope' } });
    const badChannel = record(c.streams.Channel());
    badChannel.call.write({ subscribe: { stream: 'duplex/echo', channel: 'short' } });
    for (const r of [notSubscribe, silent]) {
      const s = await within(r.status, 5000, 'status');
      expect(s.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(s.details).toBe('The first message must be subscribe');
      expect(s.metadata.get('longlink-error-code')).toEqual(['BAD_REQUEST']);
    }
    expect((await within(unknown.status, 5000, 'status')).code).toBe(grpc.status.NOT_FOUND);
    const bad = await within(badChannel.status, 5000, 'status');
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/"channel" must be 16 to 128 characters/);
    for (const r of [notSubscribe, unknown, badChannel]) expect(r.responses).toEqual([]);
  });

  it('Channel: a request message over grpc.maxReceiveMessageLength ends the call with RESOURCE_EXHAUSTED and releases the subscription', async () => {
    const tracker = app.get(StreamTracker);
    const r = record(c.streams.Channel());
    r.call.write({ subscribe: { stream: 'duplex/echo' } });
    r.call.write({ input: { id: 'ok', data: json(1) } });
    await until(() => acksOf(r.responses).length === 1, 5000, 'first ack');
    r.call.write({ input: { id: 'huge', data: Buffer.alloc(300 * 1024, 0x20) } });
    const s = await within(r.status, 5000, 'status');
    expect(s.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await until(() => tracker.size === 0, 5000, 'subscription released');
  });

  it('Channel: while the input queue is full the server stops reading the call (HTTP/2 flow control), refuses nothing, and takes everything once it drains', async () => {
    gate.closed = true;
    const r = record(c.streams.Channel());
    try {
      r.call.write({ subscribe: { stream: 'duplex/gated' } });
      const seen0 = gate.seen;
      // 400 × 16 KB: far more than the server's queue, its reading buffers and HTTP/2's
      // windows hold; the echoes of what is held fit the stream's event queue (1 MiB).
      const big = json('y'.repeat(16_000));
      let written = 0;
      let refusedWrite = false;
      for (let i = 0; i < 400; i++) {
        if (!r.call.write({ input: { id: `q${i}`, data: big } }, () => written++)) refusedWrite = true;
      }
      await until(() => gate.seen - seen0 >= 1, 5000, 'first message at the pipe');
      // Either the server keeps reading (and refuses what does not fit: the failure) or it
      // stops: the client's writes then stop completing.
      let last = -1;
      let stable = 0;
      await until(
        () => {
          stable = written === last ? stable + 1 : 0;
          last = written;
          return stable >= 10 || acksOf(r.responses).length > 0;
        },
        10_000,
        'the server stops reading, or answers',
      );
      expect(acksOf(r.responses)).toEqual([]);
      expect(refusedWrite).toBe(true);
      expect(written).toBeLessThan(200);
      expect(r.call.writableLength).toBeGreaterThan(0);
      gate.open();
      await until(() => acksOf(r.responses).length === 400, 15_000, 'all acked');
      expect(acksOf(r.responses).filter((a) => a.errorCode)).toEqual([]);
      expect(acksOf(r.responses).map((a) => a.id)).toEqual(Array.from({ length: 400 }, (_, i) => `q${i}`));
      await until(() => eventsOf(r.responses).length === 400, 5000, 'all handled');
      expect(written).toBe(400);
    } finally {
      gate.open();
      r.call.cancel();
    }
  });

  it('Channel: refusals of messages behind one still in the pipes wait their turn, and are answered in order once it passes', async () => {
    gate.closed = true;
    const r = record(c.streams.Channel());
    try {
      r.call.write({ subscribe: { stream: 'duplex/gated' } });
      const seen0 = gate.seen;
      r.call.write({ input: { id: 'held', data: json(1) } });
      await until(() => gate.seen - seen0 === 1, 5000, 'the first message at the pipe');
      const junk = Buffer.from('not json'); // refused at once, answered after 'held'
      for (let i = 0; i < 500; i++) r.call.write({ input: { id: `j${i}`, data: junk } });
      r.call.write({ input: { id: 'last', data: json(2) } });
      await until(() => gate.seen - seen0 === 1 && r.call.writableLength === 0, 5000, 'all sent');
      expect(acksOf(r.responses)).toEqual([]);
      gate.open();
      await until(() => acksOf(r.responses).length === 502, 15_000, 'all answered');
      const acks = acksOf(r.responses);
      expect(acks[0]).toEqual({ id: 'held' });
      expect(acks.slice(1, 501).map((a) => a.id)).toEqual(Array.from({ length: 500 }, (_, i) => `j${i}`));
      expect(acks.slice(1, 501).every((a) => a.errorCode === 'BAD_REQUEST' && a.errorMessage === 'Message data is not valid JSON')).toBe(true);
      expect(acks[501]).toEqual({ id: 'last' });
    } finally {
      gate.open();
      r.call.cancel();
    }
  });

  it('typed bidi: params from longlink-params metadata, each request message one client message (id = its position), a refused one dropped', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('longlink-params', JSON.stringify({ room: 'lobby' }));
    const r = record(c.duplex.Chat(metadata));
    r.call.write({ text: 'a' });
    r.call.write({ text: '' });
    r.call.write({ text: 'b' });
    r.call.end();
    const s = await within(r.status, 5000, 'status');
    expect(s.code, s.details).toBe(grpc.status.OK);
    expect(r.responses).toEqual([
      { room: 'lobby', text: 'a', n: 1, id: '1' },
      { room: 'lobby', text: 'b', n: 2, id: '3' },
    ]);
  });

  it('typed bidi: longlink-params that is not a JSON object ends the call with INVALID_ARGUMENT', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('longlink-params', '[1,2]');
    const r = record(c.duplex.Chat(metadata));
    const s = await within(r.status, 5000, 'status');
    expect(s.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(s.details).toBe('longlink-params must be a JSON object');
  });

  it('health and reflection list the bidi service and methods', async () => {
    const port = app.get(GrpcTransport).port;
    const healthDef = protoLoader.loadSync(root('node_modules/grpc-health-check/proto/health/v1/health.proto'), LOADER);
    const healthPkg = grpc.loadPackageDefinition(healthDef) as never as {
      grpc: {
        health: {
          v1: {
            Health: new (
              a: string,
              c: grpc.ChannelCredentials,
            ) => grpc.Client & { Check(request: { service: string }, callback: (error: Error | null, reply: { status: string }) => void): void };
          };
        };
      };
    };
    const health = new healthPkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) =>
        health.Check({ service }, (error: Error | null, reply: { status: string }) => (error ? reject(error) : resolve(reply))),
      );
    try {
      expect(await check('duplex.v1.Duplex')).toEqual({ status: 'SERVING' });
      expect(await check('longlink.v1.Streams')).toEqual({ status: 'SERVING' });
    } finally {
      health.close();
    }
    const reflectionDef = protoLoader.loadSync(root('node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'), LOADER);
    type Reply = { listServicesResponse?: { service: { name: string }[] }; fileDescriptorResponse?: { fileDescriptorProto: Buffer[] } };
    const reflectionPkg = grpc.loadPackageDefinition(reflectionDef) as never as {
      grpc: {
        reflection: {
          v1: { ServerReflection: new (a: string, c: grpc.ChannelCredentials) => grpc.Client & { ServerReflectionInfo(): Duplex<object, Reply> } };
        };
      };
    };
    const client = new reflectionPkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = client.ServerReflectionInfo();
    const replies: Reply[] = [];
    call.on('data', (reply: Reply) => replies.push(reply));
    call.on('error', () => undefined);
    try {
      call.write({ listServices: '' });
      call.write({ fileContainingSymbol: 'duplex.v1.Duplex' });
      call.write({ fileContainingSymbol: 'longlink.v1.Streams' });
      await until(() => replies.length === 3, 5000, 'reflection replies');
      expect(replies[0]!.listServicesResponse!.service.map((s) => s.name)).toEqual(
        expect.arrayContaining(['duplex.v1.Duplex', 'longlink.v1.Streams']),
      );
      const { FileDescriptorProto } = createRequire(import.meta.url)('protobufjs/ext/descriptor') as { FileDescriptorProto: Type };
      const methods = (reply: Reply, file: string) => {
        const files = reply.fileDescriptorResponse!.fileDescriptorProto.map(
          (b) => FileDescriptorProto.toObject(FileDescriptorProto.decode(b)) as { name: string; service?: { method: Record<string, unknown>[] }[] },
        );
        return files.find((f) => f.name === file)!.service![0]!.method;
      };
      expect(methods(replies[1]!, 'duplex/v1/duplex.proto')[0]).toMatchObject({ name: 'Chat', clientStreaming: true, serverStreaming: true });
      expect(methods(replies[2]!, 'longlink/v1/longlink.proto')).toEqual([
        expect.objectContaining({
          name: 'Subscribe',
          inputType: '.longlink.v1.SubscribeRequest',
          outputType: '.longlink.v1.Event',
          serverStreaming: true,
        }),
        expect.objectContaining({
          name: 'Channel',
          inputType: '.longlink.v1.ChannelRequest',
          outputType: '.longlink.v1.ChannelResponse',
          clientStreaming: true,
          serverStreaming: true,
        }),
      ]);
    } finally {
      call.end();
      client.close();
    }
  });
});

describe('typed bidi bindings at bootstrap', () => {
  it('a one-way stream may not bind a bidi method, and no stream a client-streaming one', async () => {
    @Controller('bad')
    class OneWayOnBidi {
      @Stream('talk', { grpc: { service: 'Duplex', method: 'Talk' } })
      talk(): Observable<unknown> {
        return new Observable();
      }
    }
    @Controller('bad2')
    class InputOnClientStreaming {
      @Stream('upload', { input: true, grpc: { service: 'Duplex', method: 'Upload' } })
      upload(@StreamInput() input$: Observable<unknown>): Observable<unknown> {
        return input$;
      }
    }
    const options: LonglinkModuleOptions = { grpc: { url: '127.0.0.1:0', protoPath: DUPLEX_PROTO, package: 'duplex.v1' } };
    @Module({ controllers: [OneWayOnBidi] })
    class A {}
    @Module({ controllers: [InputOnClientStreaming] })
    class B {}
    await expect(startApp(options, A)).rejects.toThrow(
      'gRPC method Duplex/Talk (for @Stream("bad/talk")) must be server-streaming: rpc Talk(Request) returns (stream Reply) (a bidi method needs @Stream(..., { input: true }))',
    );
    await expect(startApp(options, B)).rejects.toThrow('gRPC method Duplex/Upload (for @Stream("bad2/upload")) must be server-streaming or bidi');
  });
});

describe('input.rateLimit over gRPC', () => {
  it('is shared by the calls of one connection', async () => {
    const app = await startApp({ grpc: { url: '127.0.0.1:0' }, input: { rateLimit: { perSecond: 1, burst: 3 } } });
    const { streams, duplex } = clients(app.get(GrpcTransport).port);
    try {
      const a = record(streams.Channel());
      const b = record(streams.Channel());
      a.call.write({ subscribe: { stream: 'duplex/echo' } });
      b.call.write({ subscribe: { stream: 'duplex/echo' } });
      a.call.write({ input: { id: 'a1', data: json(1) } });
      a.call.write({ input: { id: 'a2', data: json(2) } });
      await until(() => acksOf(a.responses).length === 2, 5000, 'a acked');
      b.call.write({ input: { id: 'b1', data: json(1) } });
      b.call.write({ input: { id: 'b2', data: json(2) } });
      await until(() => acksOf(b.responses).length === 2, 5000, 'b answered');
      expect(acksOf(a.responses)).toEqual([{ id: 'a1' }, { id: 'a2' }]);
      const [b1, b2] = acksOf(b.responses);
      expect(b1).toEqual({ id: 'b1' });
      expect(b2).toMatchObject({ id: 'b2', errorCode: 'RESOURCE_EXHAUSTED', errorMessage: 'Too many messages' });
      expect((JSON.parse(b2!.errorDetails!.toString('utf8')) as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
      a.call.cancel();
      b.call.cancel();
    } finally {
      streams.close();
      duplex.close();
      await app.close();
    }
  });
});

describe('Channel at shutdown', () => {
  it('app.close() ends a Channel call with UNAVAILABLE and the hand-over trailers, as Subscribe', async () => {
    const app = await startApp({ grpc: { url: '127.0.0.1:0' }, shutdown: { drainMs: 2000 } });
    const { streams, duplex } = clients(app.get(GrpcTransport).port);
    try {
      const r = record(streams.Channel());
      r.call.write({ subscribe: { stream: 'duplex/echo' } });
      r.call.write({ input: { id: 'a', data: json(1) } });
      await until(() => acksOf(r.responses).length === 1, 5000, 'acked');
      const closing = app.close();
      const s = await within(r.status, 5000, 'status');
      await closing;
      expect(s.code).toBe(grpc.status.UNAVAILABLE);
      expect(s.metadata.get('longlink-error-code')).toEqual(['UNAVAILABLE']);
      expect(Number(s.metadata.get('longlink-retry-after-ms')[0])).toBeGreaterThanOrEqual(0);
    } finally {
      streams.close();
      duplex.close();
      await app.close();
    }
  });
});
