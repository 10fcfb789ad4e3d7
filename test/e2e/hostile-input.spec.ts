import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GrpcTransport } from '../../lib/index.js';
import { MAX_WS_CLOSE_REASON_BYTES, wsCloseReason } from '../../lib/errors/error-bounds.js';
import { DEFAULT_MAX_PARAMS_DEPTH } from '../../lib/longlink.defaults.js';
import { resolveLonglinkOptions } from '../../lib/core/longlink-options.js';
import { EchoUserGuard, HOSTILE_PROTO, HOSTILE_USERS, hostileModule, nested, nestedJson, refusalMessage } from '../fixtures/hostile.js';
import { createHttpApp, setTestLogger, type HttpPlatform } from '../harness/sse.harness.js';
import { deferred, until, within, wsText } from '../harness/util.js';

/** Error-level log lines (a refusal of client input must log none: no stack flood). */
const errors: string[] = [];
const logger: LoggerService = {
  log: () => undefined,
  warn: () => undefined,
  debug: () => undefined,
  verbose: () => undefined,
  error: (message: unknown) => void errors.push(String(message)),
};

const wellFormed = (text: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);

// Protobuf wire encoding by hand: protobuf.js itself refuses to encode more than 50 levels of Struct.
function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 127) {
    bytes.push((n & 127) | 128);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}
const field = (n: number, payload: Buffer) => Buffer.concat([varint((n << 3) | 2), varint(payload.length), payload]);
/** A `google.protobuf.Struct` `{ a: { a: ... {} } }` of `depth` levels. */
function structBytes(depth: number): Buffer {
  let struct = Buffer.alloc(0);
  for (let i = 1; i < depth; i++) struct = field(1, Buffer.concat([field(1, Buffer.from('a')), field(2, field(5, struct))]));
  return struct;
}

/** A `SubscribeRequest` with raw `Struct` bytes as params. */
const subscribe = (stream: string, params: Buffer) => Buffer.concat([field(1, Buffer.from(stream)), field(2, params)]);

type Status = { code: number; details: string; errorCode: unknown; data: Buffer[] };

/** A server-streaming call with raw request bytes, on any method. */
function rawCall(port: number, path: string, request: Buffer): Promise<Status> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return within(
    new Promise<Status>((resolve) => {
      const data: Buffer[] = [];
      const call = client.makeServerStreamRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + 5000 },
      );
      call.on('data', (d: Buffer) => data.push(d));
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => {
        client.close();
        resolve({ code: s.code, details: s.details, errorCode: s.metadata.get('longlink-error-code')[0], data });
      });
    }),
    6000,
    `gRPC ${path}`,
  );
}

describe('hostile input: WebSocket init, typed gRPC, raw gRPC bytes, POST bodies', () => {
  let app: INestApplication;
  let baseUrl: string;
  let port: number;

  beforeAll(async () => {
    setTestLogger(logger);
    ({ app, baseUrl } = await createHttpApp(
      'express',
      hostileModule({
        ws: { path: '/ws', connectionGuard: EchoUserGuard, connectionGuardAt: 'init' },
        grpc: { url: '127.0.0.1:0' },
      }),
    ));
    setTestLogger(false);
    port = app.get(GrpcTransport).port;
  });
  afterAll(() => app.close());

  /** Opens a WebSocket, sends `init` with `payload`; resolves with the error message and close. */
  async function init(payload: object) {
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`);
    const closed = deferred<{ code: number; reason: string }>();
    const messages: { type: string; error?: { code: string; message: string } }[] = [];
    ws.on('message', (raw) => messages.push(JSON.parse(wsText(raw)) as (typeof messages)[number]));
    ws.on('close', (code, reason) => closed.resolve({ code, reason: reason.toString('utf8') }));
    ws.on('error', () => undefined);
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'init', payload }));
    return { messages, ...(await within(closed.promise, 3000, 'close after a refused init')) };
  }

  it.each(HOSTILE_USERS)('WS init refused by a guard echoing %s: 4401, reason cut by bytes, the process survives', async (_, user) => {
    const before = errors.length;
    const { code, reason, messages } = await init({ user });
    expect(code).toBe(4401);
    expect(Buffer.byteLength(reason, 'utf8')).toBeLessThanOrEqual(MAX_WS_CLOSE_REASON_BYTES);
    expect(reason).toBe(wsCloseReason(refusalMessage(user)));
    expect(wellFormed(reason)).toBe(true);
    expect(messages).toEqual([{ type: 'error', error: { code: 'UNAUTHENTICATED', message: refusalMessage(user) } }]);
    expect(errors.length).toBe(before);
    // Still serving: a second connection is answered the same way.
    expect((await init({ user: 'x' })).code).toBe(4401);
  });

  it('WS init: lone surrogates echoed by the guard arrive as U+FFFD; a payload nested too deeply is refused before the guard', async () => {
    const lone = await init({ user: 'x\uD800'.repeat(100) });
    expect(lone.code).toBe(4401);
    expect(lone.reason).toBe(wsCloseReason(`Unknown user ${'x\uFFFD'.repeat(100)}`));
    expect(lone.messages[0]?.error?.message).toBe(refusalMessage('x\uFFFD'.repeat(100)));
    const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`);
    const replies: { type: string; error?: { code: string; message: string } }[] = [];
    ws.on('message', (raw) => replies.push(JSON.parse(wsText(raw)) as (typeof replies)[number]));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(`{"type":"init","payload":{"user":${nestedJson(2_000)}}}`);
    await until(() => replies.length > 0, 3000, 'the refusal of a deep init payload');
    expect(replies[0]).toMatchObject({
      type: 'error',
      error: { code: 'BAD_REQUEST', message: expect.stringContaining('nested too deeply') as unknown },
    });
    ws.close();
  });

  it.each(HOSTILE_USERS)('typed gRPC method refused by a guard echoing %s: UNAUTHENTICATED, bounded message', async (_, user) => {
    const definition = protoLoader.loadSync(HOSTILE_PROTO, { keepCase: false, defaults: false, oneofs: true });
    const Hostile = (
      grpc.loadPackageDefinition(definition) as unknown as {
        hostile: {
          v1: {
            Hostile: new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client & Record<string, (...args: unknown[]) => unknown>;
          };
        };
      }
    ).hostile.v1.Hostile;
    const client = new Hostile(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const status = await within(
      new Promise<grpc.StatusObject>((resolve) => {
        const call = client.Refuse!({ user }) as grpc.ClientReadableStream<unknown>;
        call.on('error', () => undefined);
        call.on('status', resolve);
      }),
      5000,
      'typed status',
    );
    client.close();
    expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(status.details).toBe(refusalMessage(user));
    expect(status.metadata.get('longlink-error-code')).toEqual(['UNAUTHENTICATED']);
  });

  it(`gRPC generic: Struct params of ${DEFAULT_MAX_PARAMS_DEPTH} levels are served, deeper ones INVALID_ARGUMENT (not INTERNAL), no error logged`, async () => {
    const ok = await rawCall(port, '/longlink.v1.Streams/Subscribe', subscribe('hostile/depth', structBytes(DEFAULT_MAX_PARAMS_DEPTH)));
    expect(ok.code).toBe(grpc.status.OK);
    expect(ok.data.length).toBe(1);
    expect(ok.data[0]!.toString('utf8')).toContain(`{"depth":${DEFAULT_MAX_PARAMS_DEPTH}}`);
    const before = errors.length;
    for (const depth of [DEFAULT_MAX_PARAMS_DEPTH + 1, 2_000]) {
      const refused = await rawCall(port, '/longlink.v1.Streams/Subscribe', subscribe('hostile/depth', structBytes(depth)));
      expect([refused.code, refused.errorCode]).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
      expect(refused.details).toContain('nested too deeply');
    }
    const malformed = await rawCall(port, '/longlink.v1.Streams/Subscribe', Buffer.from([0x12, 0x7f, 0x01]));
    expect([malformed.code, malformed.details]).toEqual([grpc.status.INVALID_ARGUMENT, 'Malformed request message']);
    expect(errors.length).toBe(before);
  });

  it('gRPC typed: a request protobuf.js cannot decode (Struct nested 2,000 deep) is INVALID_ARGUMENT, not INTERNAL', async () => {
    const refused = await rawCall(port, '/hostile.v1.Hostile/Depth', field(1, structBytes(2_000)));
    expect([refused.code, refused.errorCode]).toEqual([grpc.status.INVALID_ARGUMENT, 'BAD_REQUEST']);
  });
});

describe.each<HttpPlatform>(['express', 'fastify'])('hostile input: POST bodies nested too deeply (%s)', (platform) => {
  let app: INestApplication;
  let baseUrl: string;
  beforeAll(async () => {
    setTestLogger(logger);
    ({ app, baseUrl } = await createHttpApp(platform, hostileModule({})));
    setTestLogger(false);
  });
  afterAll(() => app.close());

  const post = (body: string, type: string) =>
    fetch(`${baseUrl}/hostile/post-depth`, { method: 'POST', headers: { 'content-type': type, accept: 'text/event-stream' }, body });

  // Fastify answers 415 for content types it has no parser for (octet-stream).
  const types = platform === 'express' ? ['text/plain', 'application/octet-stream', 'application/json'] : ['text/plain', 'application/json'];
  it.each(types)('%s: 64 levels served, 65 and 2,000 refused with 400, no error logged', async (type) => {
    const ok = await post(nestedJson(DEFAULT_MAX_PARAMS_DEPTH), type);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain(`"depth":${DEFAULT_MAX_PARAMS_DEPTH}`);
    const before = errors.length;
    for (const depth of [DEFAULT_MAX_PARAMS_DEPTH + 1, 2_000]) {
      const refused = await post(nestedJson(depth), type);
      expect(refused.status).toBe(400);
      const body = (await refused.json()) as { code?: string; message: string };
      if (!(platform === 'express' && type === 'application/json')) {
        // Express's own json() refuses deep JSON before the stream (its own 400 body).
        expect(body).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('nested too deeply') as unknown });
      }
    }
    expect(errors.length).toBe(before);
  });
});

describe('maxParamsDepth option', () => {
  it('defaults to 64 and is validated (1 to 512)', () => {
    expect(resolveLonglinkOptions({}).maxParamsDepth).toBe(DEFAULT_MAX_PARAMS_DEPTH);
    expect(resolveLonglinkOptions({ maxParamsDepth: 512 }).maxParamsDepth).toBe(512);
    for (const bad of [0, 513, 1.5, '8']) {
      expect(() => resolveLonglinkOptions({ maxParamsDepth: bad as never })).toThrow(/maxParamsDepth/);
    }
  });

  it('one setting applies to SSE GET params, POST bodies, WebSocket subscribe and gRPC Struct params', async () => {
    const { app, baseUrl } = await createHttpApp('express', hostileModule({ maxParamsDepth: 4, ws: true, grpc: { url: '127.0.0.1:0' } }));
    try {
      const port = app.get(GrpcTransport).port;
      const sse = async (depth: number) => (await fetch(`${baseUrl}/hostile/depth?params=${encodeURIComponent(nestedJson(depth))}`)).status;
      const post = async (depth: number) =>
        (await fetch(`${baseUrl}/hostile/post-depth`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: nestedJson(depth) })).status;
      const grpcCall = async (depth: number) =>
        (await rawCall(port, '/longlink.v1.Streams/Subscribe', subscribe('hostile/depth', structBytes(depth)))).code;
      expect([await sse(4), await sse(5)]).toEqual([200, 400]);
      expect([await post(4), await post(5)]).toEqual([200, 400]);
      expect([await grpcCall(4), await grpcCall(5)]).toEqual([grpc.status.OK, grpc.status.INVALID_ARGUMENT]);
      const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`);
      const replies: { type: string; id?: string; error?: { code: string; message: string } }[] = [];
      ws.on('message', (raw) => replies.push(JSON.parse(wsText(raw)) as (typeof replies)[number]));
      await new Promise((resolve) => ws.once('open', resolve));
      ws.send(JSON.stringify({ type: 'subscribe', id: 'ok', stream: 'hostile/depth', params: nested(4) }));
      ws.send(JSON.stringify({ type: 'subscribe', id: 'deep', stream: 'hostile/depth', params: nested(5) }));
      await until(
        () => replies.some((r) => r.id === 'ok' && r.type === 'complete') && replies.some((r) => r.id === 'deep'),
        3000,
        'WebSocket replies',
      );
      expect(replies.find((r) => r.id === 'deep')).toMatchObject({
        type: 'error',
        error: { code: 'BAD_REQUEST', message: '"params" and "payload" are nested too deeply (at most 4 levels)' },
      });
      ws.close();
    } finally {
      await app.close();
    }
  });
});
