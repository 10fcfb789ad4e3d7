import * as grpc from '@grpc/grpc-js';
import { Controller, Module, type INestApplication } from '@nestjs/common';
import { throwError } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, LonglinkModule, Stream, StreamErrorCode, StreamException } from '../../lib/index.js';
import {
  MAX_ERROR_DETAILS_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_WS_CLOSE_REASON_BYTES,
  excerpt,
  truncateUtf8,
  wellFormed,
  wsCloseReason,
} from '../../lib/errors/error-bounds.js';
import { jsonDepthExceeds } from '../../lib/core/params.js';
import { AppModule } from '../../sample/app.module.js';
import { streamsClient, toStruct } from '../harness/grpc.harness.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { until, within, wsText } from '../harness/util.js';
import { openWs } from '../harness/ws.harness.js';
import { rawWsConnect } from '../harness/raw-ws.js';

describe('error bounds', () => {
  it('cuts messages on a character boundary, at most MAX_ERROR_MESSAGE_BYTES of UTF-8', () => {
    for (const char of ['x', 'é', '€', '😀']) {
      const message = new StreamException(StreamErrorCode.BAD_REQUEST, char.repeat(100_000)).message;
      expect(Buffer.byteLength(message, 'utf8')).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
      expect(Buffer.byteLength(message, 'utf8')).toBeGreaterThan(MAX_ERROR_MESSAGE_BYTES - 8);
      expect(message.endsWith('…')).toBe(true);
      expect(message).not.toContain('\uFFFD');
      expect([...message.slice(0, -1)].every((c) => c === char)).toBe(true);
    }
    expect(truncateUtf8('short', 10)).toBe('short');
  });

  it('leaves out details larger than MAX_ERROR_DETAILS_BYTES', () => {
    const big = new StreamException(StreamErrorCode.BAD_REQUEST, 'm', { blob: 'x'.repeat(MAX_ERROR_DETAILS_BYTES) });
    expect(big.toJSON()).toEqual({ code: 'BAD_REQUEST', message: 'm' });
    const small = new StreamException(StreamErrorCode.BAD_REQUEST, 'm', { field: 'x' });
    expect(small.toJSON().details).toEqual({ field: 'x' });
  });

  it('quotes at most 64 characters of client input', () => {
    expect(excerpt('x'.repeat(100_000))).toBe(`"${'x'.repeat(64)}"…`);
    expect(excerpt('abc')).toBe('"abc"');
  });
});

type Status = { code: number; details: string; metadata: grpc.Metadata; events: number; ms: number };

describe('input bounds on every transport (sample app)', () => {
  let app: INestApplication;
  let baseUrl: string;
  let client: ReturnType<typeof streamsClient>;

  beforeAll(async () => {
    process.env.GRPC_PORT = '0';
    ({ app, baseUrl } = await createHttpApp('express', AppModule));
    client = streamsClient(app.get(GrpcTransport).port);
  }, 30_000);
  afterAll(async () => {
    client.close();
    await app.close();
  });

  const call = (request: object) =>
    within(
      new Promise<Status>((resolve) => {
        const started = Date.now();
        let events = 0;
        const stream = client.Subscribe(request, new grpc.Metadata(), { deadline: Date.now() + 4000 });
        stream.on('data', () => events++);
        stream.on('error', () => undefined);
        stream.on('status', (s: grpc.StatusObject) => resolve({ ...s, events, ms: Date.now() - started }));
      }),
      6000,
      'gRPC status',
    );
  const healthy = async () => {
    const ok = await call({ stream: 'demo/counter', params: toStruct({ count: 2, intervalMs: 0 }) });
    expect([ok.code, ok.events]).toEqual([grpc.status.OK, 2]);
  };

  it('gRPC: a 100k-character stream name gets INVALID_ARGUMENT promptly and the channel stays usable', async () => {
    const refused = await call({ stream: 'x'.repeat(100_000) });
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.metadata.get('longlink-error-code')).toEqual(['BAD_REQUEST']);
    expect(refused.details).toBe('The stream name is longer than 512 characters');
    expect(refused.ms).toBeLessThan(3000);
    await healthy();
    // Just past the cap, and an unknown name at the cap: refused, the name quoted in part only.
    expect((await call({ stream: 'y'.repeat(513) })).code).toBe(grpc.status.INVALID_ARGUMENT);
    const unknown = await call({ stream: 'z'.repeat(512) });
    expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    expect(unknown.details.length).toBeLessThan(100);
    await healthy();
  });

  it('gRPC: a 100k-character params key through ValidationPipe gets INVALID_ARGUMENT with a bounded message', async () => {
    const refused = await call({ stream: 'demo/counter', params: toStruct({ ['k'.repeat(100_000)]: 1 }) });
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(Buffer.byteLength(refused.details, 'utf8')).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    expect(refused.details).toMatch(/^property k+… ?$|^property k+…$/);
    await healthy();
  });

  it('gRPC: a request over grpc.maxReceiveMessageLength (256 KiB) gets RESOURCE_EXHAUSTED and the channel stays usable', async () => {
    const refused = await call({ stream: 'demo/counter', params: toStruct({ blob: 'b'.repeat(300 * 1024) }) });
    expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await healthy();
  });

  it('WebSocket: the same stream-name cap, bounded messages for huge keys', async () => {
    const ws = await openWs(`${baseUrl.replace('http', 'ws')}/ws`);
    const replies: { type: string; id?: string; error?: { code: string; message: string } }[] = [];
    ws.on('message', (raw) => replies.push(JSON.parse(wsText(raw)) as (typeof replies)[number]));
    const reply = async (id: string) => {
      await until(() => replies.some((r) => r.id === id), 3000, `a reply for ${id}`);
      return replies.find((r) => r.id === id)!;
    };
    ws.send(JSON.stringify({ type: 'subscribe', id: 'long', stream: 'x'.repeat(513) }));
    expect((await reply('long')).error?.code).toBe('BAD_REQUEST');
    ws.send(JSON.stringify({ type: 'subscribe', id: 'key', stream: 'demo/counter', params: { ['k'.repeat(50_000)]: 1 } }));
    const key = await reply('key');
    expect(key.error?.code).toBe('BAD_REQUEST');
    expect(Buffer.byteLength(key.error!.message, 'utf8')).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
    ws.send(JSON.stringify({ type: 'subscribe', id: 'ok', stream: 'demo/counter', params: { count: 1, intervalMs: 0 } }));
    expect((await reply('ok')).type).toBe('next');
    ws.close();
    await new Promise((r) => ws.once('close', r));
  });

  it('WebSocket: a text frame with invalid UTF-8 closes the connection with 1007', async () => {
    const { port } = new URL(baseUrl);
    const { socket, closed } = await rawWsConnect(Number(port));
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const payload = Buffer.from([0x7b, 0xc3, 0x28, 0x7d]); // "{", an invalid 2-byte sequence, "}"
    const mask = Buffer.from([1, 2, 3, 4]);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
    socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
    await within(closed, 3000, 'connection closed');
    const frames = Buffer.concat(received);
    // A close frame (opcode 8) with status 1007.
    const at = frames.indexOf(0x88);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(frames.readUInt16BE(at + 2)).toBe(1007);
  });

  it('SSE: the same stream-name cap, bounded messages for huge keys', async () => {
    const long = await fetch(`${baseUrl}/demo/${'x'.repeat(600)}`, { headers: { accept: 'text/event-stream' } });
    // No route has such a name: the application's 404, or the transport's 400 under a stream prefix.
    expect([400, 404]).toContain(long.status);
    await long.text();
    const key = await fetch(`${baseUrl}/demo/counter?${'k'.repeat(10_000)}=1`);
    expect(key.status).toBe(400);
    const body = (await key.json()) as { code: string; message: string };
    expect(body.code).toBe('BAD_REQUEST');
    expect(Buffer.byteLength(body.message, 'utf8')).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_BYTES);
  });
});

describe('gRPC error details with non-ASCII text', () => {
  @Controller('bounds')
  class BoundsController {
    @Stream('unicode')
    unicode() {
      return throwError(() => new StreamException(StreamErrorCode.BAD_REQUEST, 'café ☕ refused', { name: 'café ☕ 😀' }));
    }
  }
  @Module({ imports: [LonglinkModule.forRoot({ grpc: { url: '127.0.0.1:0' } })], controllers: [BoundsController] })
  class BoundsModule {}

  it('arrive as JSON in the trailer (escaped to ASCII), with the status', async () => {
    const { app } = await createHttpApp('express', BoundsModule);
    const client = streamsClient(app.get(GrpcTransport).port);
    try {
      const status = await within(
        new Promise<grpc.StatusObject>((resolve) => {
          const call = client.Subscribe({ stream: 'bounds/unicode', params: toStruct({}) }, new grpc.Metadata(), { deadline: Date.now() + 4000 });
          call.on('error', () => undefined);
          call.on('status', resolve);
        }),
        6000,
        'status',
      );
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(status.details).toBe('café ☕ refused');
      expect(JSON.parse(String(status.metadata.get('longlink-error-details')[0]))).toEqual({ name: 'café ☕ 😀' });
    } finally {
      client.close();
      await app.close();
    }
  });
});

describe('bounded protocol fields and depth (units)', () => {
  it('wsCloseReason: at most 123 UTF-8 bytes, never mid-character, lone surrogates replaced', () => {
    for (const text of ['é'.repeat(116), '😀'.repeat(60), `${'a'.repeat(121)}😀`, 'x\uD800y'.repeat(50), 'ok']) {
      const reason = wsCloseReason(text);
      expect(Buffer.byteLength(reason, 'utf8')).toBeLessThanOrEqual(MAX_WS_CLOSE_REASON_BYTES);
      expect(Buffer.from(reason, 'utf8').toString('utf8')).toBe(reason); // round-trips: well-formed
    }
    expect(wsCloseReason('ok')).toBe('ok');
    expect(wellFormed('a\uDC00b\uD83D\uDE00')).toBe('a\uFFFDb\uD83D\uDE00');
  });

  it('jsonDepthExceeds counts containers outside strings only', () => {
    expect(jsonDepthExceeds('{"a":[1,{"b":2}]}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"a":[1,{"b":2}]}', 2)).toBe(true);
    expect(jsonDepthExceeds(JSON.stringify({ a: '[[[[{{{{\\"[[[' }), 1)).toBe(false);
    expect(jsonDepthExceeds(`${'['.repeat(65)}${']'.repeat(65)}`, 64)).toBe(true);
  });
});
