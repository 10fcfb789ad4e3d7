import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LonglinkModule } from '../../lib/index.js';
import { DuplexModule, gate } from '../fixtures/duplex.js';
import { until, wsText } from '../harness/util.js';

type Message = { type: string; id?: string; messageId?: string; data?: unknown; duplicate?: boolean; error?: { code: string; message: string } };

/** A raw `ws` client that records every message. */
async function connect(port: number): Promise<{ ws: WebSocket; messages: Message[]; send(m: object): void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const messages: Message[] = [];
  ws.on('message', (m) => messages.push(JSON.parse(wsText(m)) as Message));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, messages, send: (m) => ws.send(JSON.stringify(m)) };
}

/** Two-way streams over WebSocket with a raw `ws` client (PROTOCOL.md §7.2). */
describe('two-way streams over WebSocket', () => {
  let app: INestApplication;
  let port: number;
  beforeAll(async () => {
    @Module({ imports: [LonglinkModule.forRoot({ ws: { maxPayloadBytes: 256 * 1024 }, input: { maxMessageBytes: 64 * 1024 } }), DuplexModule] })
    class AppModule {}
    app = await NestFactory.create(AppModule, { logger: false, forceCloseConnections: true });
    await app.listen(0, '127.0.0.1');
    port = ((app.getHttpServer() as HttpServer).address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('hands messages to the handler in order, acks each, dedups a resent id, and completes the input on input_end', async () => {
    const c = await connect(port);
    try {
      c.send({ type: 'subscribe', id: 's', stream: 'duplex/echo', ack: true });
      await until(() => c.messages.some((m) => m.type === 'subscribed'), 5000, 'subscribed');
      for (let i = 1; i <= 20; i++) c.send({ type: 'input', id: 's', messageId: `m${i}`, data: { i } });
      c.send({ type: 'input', id: 's', messageId: 'm3', data: { i: 3 } });
      c.send({ type: 'input_end', id: 's' });
      await until(() => c.messages.some((m) => m.type === 'complete'), 5000, 'complete');
      const acks = c.messages.filter((m) => m.type === 'input_ack');
      expect(acks.map((a) => a.messageId)).toEqual([...Array.from({ length: 20 }, (_, i) => `m${i + 1}`), 'm3']);
      expect(acks.at(-1)).toMatchObject({ duplicate: true });
      expect(acks.slice(0, 20).every((a) => a.duplicate === undefined)).toBe(true);
      const events = c.messages.filter((m) => m.type === 'next').map((m) => m.data);
      expect(events).toEqual([...Array.from({ length: 20 }, (_, i) => ({ echo: { i: i + 1 }, n: i + 1 })), { ended: 20 }]);
    } finally {
      c.ws.close();
    }
  });

  it('runs the pipes per message: a refused message gets input_error and the subscription goes on', async () => {
    const c = await connect(port);
    try {
      c.send({ type: 'subscribe', id: 'v', stream: 'duplex/validated' });
      c.send({ type: 'input', id: 'v', messageId: '1', data: { text: '' } });
      c.send({ type: 'input', id: 'v', messageId: '2', data: { text: 'hi', extra: 1 } });
      c.send({ type: 'input', id: 'v', messageId: '3', data: { text: 'ok' } });
      await until(() => c.messages.filter((m) => m.type.startsWith('input_')).length === 3, 5000, 'three answers');
      const answers = c.messages.filter((m) => m.type.startsWith('input_'));
      expect(answers[0]).toMatchObject({ type: 'input_error', id: 'v', messageId: '1', error: { code: 'BAD_REQUEST' } });
      expect(answers[0]!.error!.message).toMatch(/text should not be empty/);
      expect(answers[1]).toMatchObject({ type: 'input_error', messageId: '2', error: { code: 'BAD_REQUEST' } });
      expect(answers[2]).toEqual({ type: 'input_ack', id: 'v', messageId: '3' });
      await until(() => c.messages.some((m) => m.type === 'next'), 5000, 'next');
      expect(c.messages.filter((m) => m.type === 'next').map((m) => m.data)).toEqual([{ text: 'ok', isDto: true }]);
      expect(c.messages.some((m) => m.type === 'error' || m.type === 'complete')).toBe(false);
    } finally {
      c.ws.close();
    }
  });

  it('refuses input to a one-way stream, to an unknown id, oversized data and bad message ids without ending anything', async () => {
    const c = await connect(port);
    try {
      c.send({ type: 'subscribe', id: 'o', stream: 'duplex/oneway' });
      c.send({ type: 'subscribe', id: 'e', stream: 'duplex/envelope' });
      c.send({ type: 'input', id: 'o', messageId: 'a', data: 1 });
      c.send({ type: 'input', id: 'nope', messageId: 'b', data: 1 });
      c.send({ type: 'input', id: 'e', messageId: 'c', data: 'x'.repeat(70_000) });
      c.send({ type: 'input', id: 'e', messageId: 'has space', data: 1 });
      c.send({ type: 'input', id: 'e', messageId: 'd', data: { ok: true } });
      await until(() => c.messages.some((m) => m.type === 'input_ack'), 5000, 'ack of d');
      const byId = (id: string) => c.messages.find((m) => m.messageId === id);
      expect(byId('a')).toMatchObject({
        type: 'input_error',
        id: 'o',
        error: { code: 'BAD_REQUEST', message: 'Stream "duplex/oneway" takes no client messages' },
      });
      expect(byId('b')).toMatchObject({ type: 'input_error', id: 'nope', error: { code: 'NOT_FOUND' } });
      expect(byId('c')).toMatchObject({ type: 'input_error', id: 'e', error: { code: 'BAD_REQUEST', message: 'Message exceeds 65536 bytes' } });
      expect(c.messages.find((m) => m.type === 'error')).toMatchObject({ error: { code: 'BAD_REQUEST', details: { id: 'e' } } });
      expect(byId('d')).toEqual({ type: 'input_ack', id: 'e', messageId: 'd' });
      await until(() => c.messages.some((m) => m.type === 'next' && m.id === 'e'), 5000, 'envelope');
      expect(c.messages.filter((m) => m.type === 'next' && m.id === 'e').map((m) => m.data)).toMatchObject([{ id: 'd', data: { ok: true } }]);
    } finally {
      c.ws.close();
    }
  });

  it('messages that arrive in the same read as the one that filled the queue are held, not refused, and keep their order', async () => {
    gate.closed = true;
    const c = await connect(port);
    try {
      c.send({ type: 'subscribe', id: 'h', stream: 'duplex/gated', ack: true });
      await until(() => c.messages.some((m) => m.type === 'subscribed'), 5000, 'subscribed');
      // Small messages: many per TCP read, far past the queue of 4 (ws parses a whole read at once).
      const frames = Array.from({ length: 200 }, (_, i) => JSON.stringify({ type: 'input', id: 'h', messageId: `s${i}`, data: i }));
      frames.push(JSON.stringify({ type: 'input_end', id: 'h' }));
      for (const frame of frames) c.ws.send(frame);
      await until(() => gate.seen > 0, 5000, 'first message at the pipe');
      gate.open();
      await until(() => c.messages.filter((m) => m.type.startsWith('input_')).length === 200, 10_000, 'every answer');
      expect(c.messages.filter((m) => m.type === 'input_error')).toEqual([]);
      expect(c.messages.filter((m) => m.type === 'input_ack').map((m) => m.messageId)).toEqual(frames.slice(0, 200).map((_, i) => `s${i}`));
      expect(c.messages.filter((m) => m.type === 'next').map((m) => (m.data as { got: number }).got)).toEqual(
        Array.from({ length: 200 }, (_, i) => i),
      );
    } finally {
      gate.open();
      c.ws.close();
    }
  });

  it('stops reading the socket while the input queue is full and resumes when it drains, losing nothing', async () => {
    gate.closed = true;
    const c = await connect(port);
    try {
      c.send({ type: 'subscribe', id: 'g', stream: 'duplex/gated', ack: true });
      await until(() => c.messages.some((m) => m.type === 'subscribed'), 5000, 'subscribed');
      const seen0 = gate.seen;
      const big = 'y'.repeat(60_000);
      for (let i = 0; i < 400; i++) c.send({ type: 'input', id: 'g', messageId: `q${i}`, data: big });
      // The pipe holds one message and the queue four more; the rest (24 MB) wait in the
      // client's buffers, more than loopback TCP buffers take.
      await until(() => gate.seen - seen0 >= 1, 5000, 'first message at the pipe');
      // Either the server keeps reading (and refuses what does not fit: the failure) or it
      // stops: the client's unsent bytes then stay put.
      let last = -1;
      let stable = 0;
      await until(
        () => {
          const now = c.ws.bufferedAmount;
          stable = now > 0 && now === last ? stable + 1 : 0;
          last = now;
          return stable >= 10 || c.messages.some((m) => m.type === 'input_error');
        },
        10_000,
        'the server stops reading, or refuses',
      );
      expect(c.messages.filter((m) => m.type.startsWith('input_'))).toEqual([]);
      expect(c.ws.bufferedAmount).toBeGreaterThan(1_000_000);
      gate.open();
      await until(() => c.messages.filter((m) => m.type === 'input_ack').length === 400, 10000, 'all acked');
      expect(c.messages.filter((m) => m.type === 'input_error')).toEqual([]);
      expect(c.messages.filter((m) => m.type === 'next').length).toBe(400);
    } finally {
      gate.open();
      c.ws.close();
    }
  });
});

describe('two-way streams over WebSocket: the per-connection rate limit', () => {
  let app: INestApplication;
  let port: number;
  beforeAll(async () => {
    @Module({ imports: [LonglinkModule.forRoot({ ws: true, input: { rateLimit: { perSecond: 1, burst: 5 } } }), DuplexModule] })
    class RateModule {}
    app = await NestFactory.create(RateModule, { logger: false, forceCloseConnections: true });
    await app.listen(0, '127.0.0.1');
    port = ((app.getHttpServer() as HttpServer).address() as AddressInfo).port;
  });
  afterAll(async () => {
    await app?.close();
  });

  it('the subscriptions of one connection share the bucket; the excess is refused with retryAfterMs, nothing ends', async () => {
    const c = await connect(port);
    const other = await connect(port);
    try {
      c.send({ type: 'subscribe', id: 'a', stream: 'duplex/echo' });
      c.send({ type: 'subscribe', id: 'b', stream: 'duplex/echo' });
      other.send({ type: 'subscribe', id: 'a', stream: 'duplex/echo' });
      for (let i = 0; i < 4; i++) c.send({ type: 'input', id: 'a', messageId: `a${i}`, data: i });
      for (let i = 0; i < 4; i++) c.send({ type: 'input', id: 'b', messageId: `b${i}`, data: i });
      other.send({ type: 'input', id: 'a', messageId: 'o', data: 0 });
      await until(() => c.messages.filter((m) => m.type.startsWith('input_')).length === 8, 5000, 'eight answers');
      await until(() => other.messages.some((m) => m.type === 'input_ack'), 5000, 'the other connection has its own bucket');
      const answers = c.messages.filter((m) => m.type.startsWith('input_'));
      expect(answers.filter((m) => m.type === 'input_ack')).toHaveLength(5);
      const refused = answers.filter((m) => m.type === 'input_error');
      expect(refused).toHaveLength(3);
      for (const r of refused) {
        expect(r.error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: 'Too many messages' });
        expect((r.error as { details?: { retryAfterMs?: number } }).details?.retryAfterMs).toBeGreaterThan(0);
      }
      expect(c.messages.some((m) => m.type === 'error' || m.type === 'complete')).toBe(false);
    } finally {
      c.ws.close();
      other.ws.close();
    }
  });
});
