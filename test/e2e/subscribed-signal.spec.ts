import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GrpcTransport, LonglinkModule, StreamHub } from '../../lib/index.js';
import { DemoModule } from '../../sample/demo/demo.module.js';
import { DEMO_PROTO, streamsClient, toStruct } from '../harness/grpc.harness.js';
import { deferred, within, wsText } from '../harness/util.js';

/**
 * The "server holds the subscription" signal on the wire, with raw clients (PROTOCOL.md §4.2
 * `subscribed`, §5.3 response headers): it comes for a stream that has sent nothing yet, and
 * an event published after it is delivered.
 */
describe('the server-holds-the-subscription signal, raw clients', () => {
  let app: INestApplication;
  let port: number;
  let grpcPort: number;
  beforeAll(async () => {
    @Module({
      imports: [
        LonglinkModule.forRoot({ isGlobal: true, ws: { path: '/ws' }, grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1' } }),
        DemoModule,
      ],
    })
    class SignalModule {}
    app = await NestFactory.create(SignalModule, { logger: false, forceCloseConnections: true });
    await app.listen(0, '127.0.0.1');
    port = ((app.getHttpServer() as HttpServer).address() as AddressInfo).port;
    grpcPort = app.get(GrpcTransport).port;
  });
  afterAll(async () => {
    await app.close();
  });

  it('WebSocket: "ack": true is answered with subscribed, then a publish arrives; without ack no subscribed is sent', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const messages: { type: string; id?: string; data?: unknown }[] = [];
    const waiters: (() => void)[] = [];
    ws.on('message', (m) => {
      messages.push(JSON.parse(wsText(m)) as (typeof messages)[number]);
      for (const w of waiters.splice(0)) w();
    });
    const waitFor = async (pred: () => boolean, what: string) => {
      while (!pred()) {
        const d = deferred();
        waiters.push(d.resolve);
        await within(d.promise, 5000, what);
      }
    };
    await new Promise((r) => ws.once('open', r));
    try {
      ws.send(JSON.stringify({ type: 'subscribe', id: 'plain', stream: 'demo/chat', params: { room: 'sig-plain' } }));
      ws.send(JSON.stringify({ type: 'subscribe', id: 'a1', stream: 'demo/chat', params: { room: 'sig-ws' }, ack: true }));
      await waitFor(() => messages.some((m) => m.type === 'subscribed'), 'subscribed');
      expect(messages.filter((m) => m.type === 'subscribed')).toEqual([{ type: 'subscribed', id: 'a1' }]);
      await app.get(StreamHub).publish('chat:sig-ws', { from: 'x', text: 'hello' });
      await waitFor(() => messages.some((m) => m.type === 'next'), 'next');
      expect(messages.find((m) => m.type === 'next')).toMatchObject({ id: 'a1', data: { text: 'hello' } });
      // The plain subscription is live too (a ping is answered after both subscribes were handled), but was never acknowledged.
      ws.send(JSON.stringify({ type: 'ping' }));
      await waitFor(() => messages.some((m) => m.type === 'pong'), 'pong');
      expect(messages.some((m) => m.type === 'subscribed' && m.id === 'plain')).toBe(false);
    } finally {
      ws.close();
    }
  });

  it('gRPC: response headers arrive once the subscription is held, before any message', async () => {
    const client = streamsClient(grpcPort);
    const call = client.Subscribe({ stream: 'demo/chat', params: toStruct({ room: 'sig-grpc' }) });
    const data: unknown[] = [];
    call.on('data', (m: { data: Buffer }) => data.push(JSON.parse(Buffer.from(m.data).toString('utf8'))));
    call.on('error', () => undefined);
    try {
      await within(new Promise((r) => call.once('metadata', r)), 5000, 'response headers');
      expect(data).toEqual([]);
      await app.get(StreamHub).publish('chat:sig-grpc', { from: 'x', text: 'hi' });
      await within(new Promise((r) => call.once('data', r)), 5000, 'event');
      expect(data).toMatchObject([{ text: 'hi' }]);
    } finally {
      call.cancel();
      client.close();
    }
  });
});
