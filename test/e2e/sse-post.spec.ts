import net from 'node:net';
import { fetchEventSource, type EventSourceMessage } from '@microsoft/fetch-event-source';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamTracker } from '../../lib/index.js';
import { fakeReply } from '../../sample/demo/demo.controller.js';
import { conformanceModule } from '../fixtures/probe.js';
import { parseSse } from '../harness/raw-http.js';
import { createHttpApp, type HttpPlatform } from '../harness/sse.harness.js';
import { until, within } from '../harness/util.js';

// @microsoft/fetch-event-source is written for browsers: it calls window.setTimeout /
// window.clearTimeout (and reads `document` unless openWhenHidden is set). In Node,
// `window` is the global object.
(globalThis as { window?: unknown }).window ??= globalThis;
// dispose() calls document.removeEventListener even with openWhenHidden: a stand-in with no events.
(globalThis as { document?: unknown }).document ??= { hidden: false, addEventListener() {}, removeEventListener() {} };

const prompt = 'how do streams resume';

async function post(baseUrl: string, body: string, headers: Record<string, string> = {}, path = '/demo/complete') {
  return fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body,
  });
}

describe.each<HttpPlatform>(['express', 'fastify'])('POST streams (%s)', (platform) => {
  let ctx: Awaited<ReturnType<typeof createHttpApp>>;
  beforeAll(async () => {
    ctx = await createHttpApp(platform, conformanceModule({ sse: { heartbeatMs: 0 } }));
  });
  afterAll(() => ctx.app.close());

  it('fetch + ReadableStream: the reply token by token, same SSE framing, then event: complete', async () => {
    const res = await post(ctx.baseUrl, JSON.stringify({ prompt, tokenDelayMs: 0 }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const events = parseSse(text);
    expect(events[0]).toEqual({ retry: '2000' });
    expect(events.at(-1)).toEqual({ event: 'complete', data: '{}' });
    const tokens = events.filter((e) => e.id !== undefined).map((e) => JSON.parse(e.data!) as { token: string; index: number });
    expect(tokens.map((t) => t.token)).toEqual(fakeReply(prompt));
    expect(tokens.map((t) => t.index)).toEqual(fakeReply(prompt).map((_, i) => i));
  });

  it('@microsoft/fetch-event-source: POST, then resume with Last-Event-ID after a dropped connection', async () => {
    const all = fakeReply(prompt);
    const first: EventSourceMessage[] = [];
    const controller = new AbortController();
    let status = 0;
    await new Promise<void>((resolve, reject) => {
      void fetchEventSource(`${ctx.baseUrl}/demo/complete`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt, tokenDelayMs: 20 }),
        signal: controller.signal,
        openWhenHidden: true,
        fetch,
        onopen: async (r) => void (status = r.status),
        onmessage: (m) => {
          if (!m.data) return; // the library also reports the retry-only block
          first.push(m);
          if (first.length === 5) {
            controller.abort(); // the connection drops after 5 tokens
            resolve();
          }
        },
        onerror: (e: unknown) => {
          reject(e);
          throw e;
        },
      });
    });
    expect(status).toBe(200);
    await until(() => ctx.app.get(StreamTracker).size === 0, 5000, 'upstream torn down after abort');
    const rest: EventSourceMessage[] = [];
    await within(
      new Promise<void>((resolve, reject) => {
        void fetchEventSource(`${ctx.baseUrl}/demo/complete`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'last-event-id': first.at(-1)!.id },
          body: JSON.stringify({ prompt, tokenDelayMs: 0 }),
          openWhenHidden: true,
          fetch,
          onmessage: (m) => {
            if (m.event === 'complete') resolve();
            else if (m.data) rest.push(m);
          },
          onclose: () => resolve(),
          onerror: (e: unknown) => {
            reject(e);
            throw e;
          },
        });
      }),
      5000,
      'resumed reply',
    );
    const tokens = [...first, ...rest].map((m) => (JSON.parse(m.data) as { token: string }).token);
    expect(tokens).toEqual(all);
    expect(rest[0]!.id).toBe('5');
  });

  it('refuses a body over the limit with 413, and bad bodies with 400 and the JSON error', async () => {
    const big = await post(ctx.baseUrl, JSON.stringify({ prompt, pad: 'x'.repeat(9000) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ code: 'BAD_REQUEST', message: 'Request body exceeds 8192 bytes', details: { limitBytes: 8192 } });
    for (const [body, headers, path] of [
      ['{}', {}, undefined],
      ['[1]', {}, undefined],
      ['{"prompt":"a","__proto__":{"x":1}}', {}, undefined],
      [JSON.stringify({ prompt, extra: 1 }), {}, undefined],
      [JSON.stringify({ prompt }), {}, '/demo/complete?prompt=x'],
      ['{"prompt":', { 'content-type': 'text/plain' }, undefined],
    ] as const) {
      const res = await post(ctx.baseUrl, body, headers, path);
      expect(res.status, body).toBe(400);
      const json = (await res.json()) as { code?: string; statusCode?: number };
      // Fastify's own JSON parser refuses __proto__ keys (its 400, Nest's error body) before the route runs.
      if (platform === 'fastify' && body.includes('__proto__')) expect(json.statusCode).toBe(400);
      else expect(json.code, `${body}: ${JSON.stringify(json)}`).toBe('BAD_REQUEST');
    }
    // A JSON body sent as text/plain (no CORS preflight) is read too.
    const plain = await post(ctx.baseUrl, JSON.stringify({ prompt, tokenDelayMs: 0 }), { 'content-type': 'text/plain' });
    expect(plain.status).toBe(200);
    expect(parseSse(await plain.text()).filter((e) => e.id).length).toBe(fakeReply(prompt).length);
  });

  it('a GET on a POST stream is not the stream', async () => {
    const res = await fetch(`${ctx.baseUrl}/demo/complete?prompt=x`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: 'NOT_FOUND', message: 'Stream "demo/complete" is a POST stream: request it with POST and a JSON body' });
  });
});

describe.each<HttpPlatform>(['express', 'fastify'])('POST stream body timeout (%s)', (platform) => {
  let ctx: Awaited<ReturnType<typeof createHttpApp>>;
  beforeAll(async () => {
    ctx = await createHttpApp(platform, conformanceModule({ sse: { heartbeatMs: 0, bodyTimeoutMs: 300 } }));
  });
  afterAll(() => ctx.app.close());

  /** A POST whose body trickles in one byte every 50 ms over a raw socket; resolves with what the server answered. */
  function trickle(type: string, path = '/demo/complete') {
    const { port } = new URL(ctx.baseUrl);
    const body = JSON.stringify({ prompt: 'p'.repeat(200) });
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    let sent = 0;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => undefined);
    const started = Date.now();
    const closed = new Promise<{ answer: string; ms: number; sent: number }>((resolve) =>
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ answer, ms: Date.now() - started, sent });
      }),
    );
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nAccept: text/event-stream\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const timer = setInterval(() => {
      if (sent < body.length && !socket.destroyed) socket.write(body[sent++]!);
    }, 50);
    return within(closed, 5000, 'the server to close the trickling request');
  }

  it.each(['application/json', 'text/plain'])('%s trickled 1 byte / 50 ms: 408 BAD_REQUEST after bodyTimeoutMs, connection closed', async (type) => {
    const { answer, ms, sent } = await trickle(type);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer.slice(answer.indexOf('\r\n\r\n') + 4)).toBe(
      JSON.stringify({ code: 'BAD_REQUEST', message: 'Request body not received within 300 ms', details: { timeoutMs: 300 } }),
    );
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(2000);
    expect(sent).toBeLessThan(60); // cut long before the body was through
    // The server still serves POST streams whose body arrives in time.
    const ok = await post(ctx.baseUrl, JSON.stringify({ prompt, tokenDelayMs: 0 }));
    expect(ok.status).toBe(200);
    await ok.text();
  });
});
