import type { INestApplication } from '@nestjs/common';
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventSource } from 'eventsource';
import { GrpcTransport } from '../../lib/index.js';
import { createClient, StreamError, type LonglinkClient } from '../../lib/client/index.js';
import { demoChat } from '../../sample/generated/streams.client.js';
import { AppModule } from '../../sample/app.module.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { TestRedis } from '../harness/redis-server.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { until } from '../harness/util.js';

async function post(baseUrl: string, room: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}/demo/chat/${room}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('sample demo/chat on Redis, two instances', () => {
  let redis: TestRedis;
  const apps: { app: INestApplication; baseUrl: string }[] = [];

  beforeAll(async () => {
    redis = await TestRedis.start();
    process.env.REDIS_URL = redis.url;
    process.env.GRPC_PORT = '0';
    for (let i = 0; i < 2; i++) apps.push(await createHttpApp('express', AppModule));
  }, 30_000);
  afterAll(async () => {
    for (const { app } of apps) await app.close();
    delete process.env.REDIS_URL;
    await redis.stop();
  });

  it('POST validates input: 201 { id } or 400', async () => {
    const [a] = apps;
    const ok = await post(a!.baseUrl, 'room-1', { from: 'ann', text: 'hi' });
    expect(ok.status).toBe(201);
    expect(typeof ok.json.id).toBe('string');
    for (const [room, body] of [
      ['room-1', { from: '', text: 'hi' }],
      ['room-1', { from: 'ann', text: 'x'.repeat(1001) }],
      ['room-1', { from: 'ann' }],
      ['room-1', { from: 'ann', text: 'hi', extra: true }],
      ['Bad_Room', { from: 'ann', text: 'hi' }],
    ] as const) {
      expect((await post(a!.baseUrl, room, body)).status, JSON.stringify([room, body])).toBe(400);
    }
    const badRoom = await rawGet(`${a!.baseUrl}/demo/chat?room=UPPER`);
    expect(badRoom.status).toBe(400);
    await badRoom.body();
  });

  it('a message posted on one instance reaches a subscriber of the other, and resume works there', async () => {
    const [a, b] = apps;
    // demo/chat takes client messages: over SSE the subscription names its channel (PROTOCOL.md §7.4).
    const stream = await rawGet(`${b!.baseUrl}/demo/chat?room=shared&channel=sample-chat-shared-1`);
    await stream.waitFor((t) => t.startsWith('retry:'), 2000);
    // The head is sent before the hub's Redis subscription is in place: wait for that.
    await redis.waitForSubscribers('longlink:c:chat:shared');
    const first = await post(a!.baseUrl, 'shared', { from: 'ann', text: 'one' });
    await post(a!.baseUrl, 'shared', { from: 'bob', text: 'two' });
    await stream.waitFor((t) => t.includes('"text":"two"'), 3000);
    const events = parseSse(stream.text).filter((e) => e.data);
    expect(events.map((e) => (JSON.parse(e.data!) as { text: string }).text)).toEqual(['one', 'two']);
    expect(events[0]!.id).toBe(first.json.id);
    stream.destroy();
    const resumed = await rawGet(`${b!.baseUrl}/demo/chat?room=shared&channel=sample-chat-shared-2`, { 'last-event-id': String(first.json.id) });
    await resumed.waitFor((t) => t.includes('"text":"two"'), 3000);
    expect(
      parseSse(resumed.text)
        .filter((e) => e.data)
        .map((e) => (JSON.parse(e.data!) as { text: string }).text),
    ).toEqual(['two']);
    resumed.destroy();
  });

  it('two-way: a Node client over gRPC (Streams/Channel) sends lines that an SSE page-like client on the other instance sees, and the reverse; refusals reject the send', async () => {
    const [a, b] = apps;
    const room = `grpc-${Date.now()}`;
    const clients: LonglinkClient[] = [];
    try {
      const overGrpc = createClient({
        url: a!.baseUrl,
        transport: 'grpc',
        grpcUrl: `127.0.0.1:${a!.app.get(GrpcTransport).port}`,
        retry: { initialMs: 20, maxMs: 200 },
      });
      const overSse = createClient({ url: b!.baseUrl, transport: 'sse', EventSource, retry: { initialMs: 20, maxMs: 200 } });
      clients.push(overGrpc, overSse);
      const node = overGrpc.channel(demoChat, { room, name: 'node' });
      const page = overSse.channel(demoChat, { room, name: 'page' });
      // Both subscribe; the page's events carry the hub's ids (channel.events).
      const pageEvents = firstValueFrom(
        page.events.pipe(
          filter((e) => e.type === 'next'),
          take(4),
          toArray(),
        ),
      );
      const nodeLines = firstValueFrom(node.pipe(take(4), toArray()));
      // Each channel stays subscribed until the end (as a page's does): the collectors above leave after 4 events.
      node.subscribe();
      page.subscribe();
      await redis.waitForSubscribers(`longlink:c:chat:${room}`, 2); // the hub of each instance, before the first line
      await node.send({ text: 'hello from grpc' });
      await page.send({ text: 'hello from the page' });
      await node.send({ typing: true });
      await node.send({ text: 'bye', typing: false });
      const refused = await node.send({ text: '' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(StreamError);
      expect(refused).toMatchObject({ code: 'BAD_REQUEST', message: 'text must be longer than or equal to 1 characters' });
      await page.send({ text: 'ok' });
      const events = await pageEvents;
      expect(events.map((e) => e.type === 'next' && `${e.data.from}: ${e.data.text}`)).toEqual([
        'node: hello from grpc',
        'page: hello from the page',
        'node: bye',
        'page: ok',
      ]);
      expect(new Set(events.map((e) => e.id)).size).toBe(4);
      expect((await nodeLines).map((l) => `${l.from}: ${l.text}`)).toEqual([
        'node: hello from grpc',
        'page: hello from the page',
        'node: bye',
        'page: ok',
      ]);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  it('POST answers 503 UNAVAILABLE with Retry-After while Redis is down, 201 again once it is back', async () => {
    const [a] = apps;
    await redis.kill();
    let response: Response | undefined;
    const hi = () =>
      fetch(`${a!.baseUrl}/demo/chat/down`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ from: 'ann', text: 'hi' }),
      });
    await until(async () => (response = await hi()).status !== 201, 2000, 'a post refused');
    expect(response!.status).toBe(503);
    expect(response!.headers.get('retry-after')).toBe('1');
    expect(await response!.json()).toEqual({ code: 'UNAVAILABLE', message: 'The hub is not reachable right now' });
    await redis.run();
    const restarted = Date.now();
    await until(
      async () => (await post(a!.baseUrl, 'down', { from: 'ann', text: 'back' })).status === 201,
      5000,
      'a post accepted after the restart',
    );
    expect(Date.now() - restarted).toBeLessThan(2000);
  });
});
