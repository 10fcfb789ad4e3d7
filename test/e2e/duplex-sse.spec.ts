import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import net from 'node:net';
import { Controller, Module } from '@nestjs/common';
import { Observable, map, merge, of } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LonglinkModule, Stream, StreamInput, StreamParams } from '../../lib/index.js';
import { parseSse } from '../harness/raw-http.js';
import { EventSource } from 'eventsource';
import { DuplexModule, gate } from '../fixtures/duplex.js';
import { createHttpApp, type HttpPlatform } from '../harness/sse.harness.js';
import { newChannel, postInput, subscribeSse } from '../harness/sse-input.js';
import { until, within } from '../harness/util.js';

/** A POST stream with input: params from the body, the channel from the query string. */
@Controller('dpost')
class PostInputController {
  @Stream('echo', { input: true, sse: { method: 'POST' } })
  echo(@StreamParams() params: Record<string, unknown>, @StreamInput() input$: Observable<unknown>): Observable<unknown> {
    return merge(of({ params }), input$.pipe(map((data) => ({ got: data }))));
  }
}

@Module({
  imports: [
    LonglinkModule.forRoot({ sse: { heartbeatMs: 0, inputPath: 'x/in', bodyTimeoutMs: 500 }, input: { maxMessageBytes: 1024 } }),
    DuplexModule,
  ],
  controllers: [PostInputController],
})
class AppModule {}

/** Two-way streams over SSE: the subscription's `channel` and the POST endpoint (PROTOCOL.md §7.4). */
describe.each<HttpPlatform>(['express', 'fastify'])('two-way streams over SSE (%s)', (platform) => {
  let ctx: Awaited<ReturnType<typeof createHttpApp>>;
  const inputUrl = (channel: string) => `${ctx.baseUrl}/api/x/in/${channel}`;
  const streamUrl = (stream: string, query: string) => `${ctx.baseUrl}/api/${stream}?${query}`;
  beforeAll(async () => {
    ctx = await createHttpApp(platform, AppModule, (app) => app.setGlobalPrefix('api'));
  });
  afterAll(() => ctx.app.close());

  it('hands POSTed messages to the handler in order, acks each with 202, dedups a resent id, and half-closes', async () => {
    const channel = newChannel();
    const sub = await subscribeSse(streamUrl('duplex/echo', `channel=${channel}`));
    try {
      expect(sub.status).toBe(200);
      const acks: unknown[] = [];
      for (let i = 1; i <= 10; i++) {
        // JSON and text/plain (no CORS preflight) bodies alike.
        const answer = await postInput(inputUrl(channel), { id: `m${i}`, data: { i } }, i % 2 ? 'application/json' : 'text/plain;charset=UTF-8');
        expect(answer.status).toBe(202);
        acks.push(answer.body);
      }
      expect(acks).toEqual(Array.from({ length: 10 }, (_, i) => ({ id: `m${i + 1}` })));
      expect(await postInput(inputUrl(channel), { id: 'm3', data: { i: 3 } })).toMatchObject({ status: 202, body: { id: 'm3', duplicate: true } });
      expect(await postInput(inputUrl(channel), { end: true })).toMatchObject({ status: 202, body: { end: true } });
      await sub.waitFor((s) => s.events.some((e) => e.event === 'complete'), 'complete');
      expect(sub.data()).toEqual([...Array.from({ length: 10 }, (_, i) => ({ echo: { i: i + 1 }, n: i + 1 })), { ended: 10 }]);
      // The subscription is gone: its channel is no longer held.
      expect(await postInput(inputUrl(channel), { id: 'm11', data: 1 })).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    } finally {
      sub.close();
    }
  });

  it('an EventSource subscription gets what is POSTed to its channel', async () => {
    const channel = newChannel();
    const es = new EventSource(streamUrl('duplex/echo', `channel=${channel}`));
    const got: unknown[] = [];
    es.onmessage = (e) => got.push(JSON.parse(e.data as string));
    try {
      await new Promise<void>((resolve, reject) => {
        es.onopen = () => resolve();
        es.onerror = () => reject(new Error('EventSource failed'));
      });
      expect(await postInput(inputUrl(channel), { id: 'a', data: 'hello' })).toMatchObject({ status: 202, body: { id: 'a' } });
      await until(() => got.length === 1, 5000, 'event');
      expect(got).toEqual([{ echo: 'hello', n: 1 }]);
    } finally {
      es.close();
    }
  });

  it('curl sends as README shows: 202 and the ack, then the half-close', async () => {
    const channel = newChannel();
    const sub = await subscribeSse(streamUrl('duplex/echo', `channel=${channel}`));
    try {
      const curl = (body: string) =>
        promisify(execFile)('curl', [
          '-s',
          '-w',
          ' %{http_code}',
          '-X',
          'POST',
          inputUrl(channel),
          '-H',
          'content-type: application/json',
          '-d',
          body,
        ]);
      expect((await curl('{"id":"m1","data":{"text":"hi"}}')).stdout).toBe('{"id":"m1"} 202');
      expect((await curl('{"end":true}')).stdout).toBe('{"end":true} 202');
      await sub.waitFor((s) => s.events.some((e) => e.event === 'complete'), 'complete');
      expect(sub.data()).toEqual([{ echo: { text: 'hi' }, n: 1 }, { ended: 1 }]);
    } finally {
      sub.close();
    }
  });

  it('a POST stream with input takes its params from the body and its channel from the query string', async () => {
    const channel = newChannel();
    const res = await fetch(streamUrl('dpost/echo', `channel=${channel}`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ room: 'r1' }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const data = () =>
      parseSse(text)
        .filter((e) => e.data !== undefined)
        .map((e) => JSON.parse(e.data!) as unknown);
    const read = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
      }
    })();
    try {
      expect(await postInput(inputUrl(channel), { id: '1', data: 'hi' })).toMatchObject({ status: 202, body: { id: '1' } });
      await until(() => data().length === 2, 5000, 'two events');
      expect(data()).toEqual([{ params: { room: 'r1' } }, { got: 'hi' }]);
    } finally {
      await reader.cancel();
      await read.catch(() => undefined);
    }
  });

  it('a body that does not arrive within sse.bodyTimeoutMs is answered 408 and its connection closed', async () => {
    const { port } = new URL(ctx.baseUrl);
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write(`POST /api/x/in/${newChannel()} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id":`);
    await within(closed, 5000, 'connection closed');
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(answer).toContain('"code":"BAD_REQUEST"');
  });

  it('a stream with input takes a valid channel over SSE (400 for a bad one), reads without one; on other streams channel stays an ordinary param', async () => {
    const reader = await subscribeSse(streamUrl('duplex/echo', ''));
    try {
      expect(reader.status).toBe(200);
    } finally {
      reader.close();
    }
    for (const query of ['channel=short', `channel=${newChannel()}&channel=${newChannel()}`, `channel=${'a'.repeat(15)}%2F`]) {
      const sub = await subscribeSse(streamUrl('duplex/echo', query));
      expect(sub.status).toBe(400);
      expect(JSON.parse(sub.body || '{}')).toMatchObject({ code: 'BAD_REQUEST' });
      await sub.waitFor((s) => s.ended, 'ended');
      const refused = JSON.parse(sub.body) as { message: string };
      expect(refused.message).toMatch(/channel/);
    }
    const oneway = await subscribeSse(streamUrl('duplex/oneway', 'channel=short'));
    try {
      await oneway.waitFor((s) => s.data().length === 1, 'oneway event');
      expect(oneway.data()).toEqual([{ params: { channel: 'short' } }]);
    } finally {
      oneway.close();
    }
  });

  it('refuses bad messages per message with §2 statuses; the subscription goes on', async () => {
    const channel = newChannel();
    const sub = await subscribeSse(streamUrl('duplex/validated', `channel=${channel}`));
    try {
      const url = inputUrl(channel);
      const invalid = await postInput(url, { id: '1', data: { text: '' } });
      expect(invalid).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST' } });
      expect(String(invalid.body.message)).toMatch(/text should not be empty/);
      expect(await postInput(url, 'not json', 'text/plain')).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST' } });
      expect(await postInput(url, { id: 'has space', data: 1 })).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST' } });
      expect(await postInput(url, { id: '2', data: 1, extra: true })).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST' } });
      expect(await postInput(url, { end: false })).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST' } });
      const big = await postInput(url, { id: '3', data: { text: 'x'.repeat(2000) } });
      expect(big).toMatchObject({ status: 413, body: { code: 'BAD_REQUEST' } });
      // Over the stream's limit but within the endpoint's read limit: refused by the holder, still 413.
      const over = await postInput(url, { id: '3', data: { text: 'x'.repeat(1100) } });
      expect(over).toMatchObject({ status: 413, body: { code: 'BAD_REQUEST', details: { limitBytes: 1024 } } });
      expect(await postInput(`${ctx.baseUrl}/api/x/in/bad!channel`, { id: '4', data: 1 })).toMatchObject({ status: 400 });
      expect(await postInput(inputUrl(newChannel()), { id: '5', data: { text: 'x' } })).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
      expect(await postInput(url, { id: '6', data: { text: 'ok' } })).toEqual(expect.objectContaining({ status: 202, body: { id: '6' } }));
      await sub.waitFor((s) => s.data().length === 1, 'the valid message');
      expect(sub.data()).toEqual([{ text: 'ok', isDto: true }]);
      expect(sub.ended).toBe(false);
    } finally {
      sub.close();
    }
  });

  it('answers 429 with Retry-After while the input queue is full, and takes messages again once it drains', async () => {
    const channel = newChannel();
    gate.closed = true;
    const sub = await subscribeSse(streamUrl('duplex/gated', `channel=${channel}`));
    try {
      const url = inputUrl(channel);
      // One message sits in the (closed) pipe, four more fill the queue (maxQueue 4).
      const pending = Array.from({ length: 5 }, (_, i) => postInput(url, { id: `q${i}`, data: i }));
      await until(() => gate.seen >= 1, 5000, 'first message in the pipe');
      // The five may still be on their way: probe until the queue is full (accepted probes count).
      let full: Awaited<ReturnType<typeof postInput>> | undefined;
      let probes = 0;
      let accepted = 0;
      await until(
        async () => {
          full = await postInput(url, { id: `over${++probes}`, data: 0 });
          if (full.status === 202) accepted++;
          return full.status !== 202;
        },
        5000,
        'queue full',
      );
      expect(full).toMatchObject({ status: 429, body: { code: 'RESOURCE_EXHAUSTED' } });
      expect(full!.headers.get('retry-after')).toBe('1');
      gate.open();
      const answers = await Promise.all(pending);
      expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
      expect(await postInput(url, { id: 'after', data: 9 })).toMatchObject({ status: 202 });
      await sub.waitFor((s) => s.data().length === 6 + accepted, 'every accepted message');
    } finally {
      gate.open();
      sub.close();
    }
  });
});

describe('two-way streams over SSE: input.rateLimit', () => {
  @Module({ imports: [LonglinkModule.forRoot({ sse: { heartbeatMs: 0 }, input: { rateLimit: { perSecond: 1, burst: 2 } } }), DuplexModule] })
  class RateModule {}
  let ctx: Awaited<ReturnType<typeof createHttpApp>>;
  beforeAll(async () => {
    ctx = await createHttpApp('express', RateModule);
  });
  afterAll(() => ctx.app.close());

  it('counts per subscription over SSE: past the burst, 429 with Retry-After; other subscriptions are not affected', async () => {
    const [one, two] = [newChannel(), newChannel()];
    const subs = await Promise.all([one, two].map((c) => subscribeSse(`${ctx.baseUrl}/duplex/echo?channel=${c}`)));
    try {
      const url = (c: string) => `${ctx.baseUrl}/longlink/input/${c}`;
      expect((await postInput(url(one), { id: '1', data: 1 })).status).toBe(202);
      expect((await postInput(url(one), { id: '2', data: 2 })).status).toBe(202);
      const limited = await postInput(url(one), { id: '3', data: 3 });
      expect(limited).toMatchObject({ status: 429, body: { code: 'RESOURCE_EXHAUSTED', details: { retryAfterMs: expect.any(Number) as unknown } } });
      expect(limited.headers.get('retry-after')).toBe('1');
      expect((await postInput(url(two), { id: '1', data: 1 })).status).toBe(202);
    } finally {
      for (const s of subs) s.close();
    }
  });
});
