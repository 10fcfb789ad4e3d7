import http from 'node:http';
import type { INestApplication } from '@nestjs/common';
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_STATUS_BY_CODE, STREAM_ERROR_CODES, StreamTracker } from '../../lib/index.js';
import { MAX_ERROR_MESSAGE_BYTES } from '../../lib/errors/error-bounds.js';
import { deferred, within, wsText } from '../harness/util.js';
import { startStressApp } from './stress.fixture.js';
import { byMode, record, settle } from './stress.util.js';

const WS_FRAMES = byMode(2000, 10_000);
const SSE_REQUESTS = byMode(1000, 5000);
const TYPES = new Set(['subscribe', 'unsubscribe', 'ping', 'init']);
// PROTOCOL.md §4.2 and §4.1.1 (init_ack answers an init message, subscribed a subscribe with "ack": true).
const SERVER_TYPES = new Set(['next', 'reset', 'complete', 'error', 'pong', 'init_ack', 'subscribed']);

type Frame = { text: string } | { binary: Uint8Array } | { rawText: Uint8Array };

/** Frames a hostile or broken client might send: random text, random JSON, near-valid messages, binary. */
const frameArbitrary: fc.Arbitrary<Frame> = fc.oneof(
  fc.string({ maxLength: 200 }).map((text) => ({ text })),
  fc.json({ maxDepth: 4 }).map((text) => ({ text })),
  fc
    .record(
      {
        type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'init', 'next'), fc.string(), fc.integer()),
        id: fc.oneof(fc.string({ maxLength: 200 }), fc.integer(), fc.constant(null)),
        stream: fc.oneof(fc.constantFrom('stress/tick', 'stress/nope', '', 'x'.repeat(600)), fc.string(), fc.integer()),
        params: fc.oneof(fc.object({ maxDepth: 3 }), fc.anything({ maxDepth: 2 }), fc.constant({ __proto__: 1 })),
        lastEventId: fc.oneof(fc.string({ maxLength: 2000 }), fc.integer(), fc.constant('a\nb')),
      },
      { requiredKeys: [] },
    )
    .map((message) => ({ text: JSON.stringify(message) })),
  fc
    .constantFrom(
      '{"__proto__":{"x":1},"type":"ping"}',
      '{"type":"subscribe","id":"p","stream":"stress/tick","params":{"constructor":{}}}',
      '[1,2]',
      'null',
      '"x"',
      '{'.repeat(5000),
    )
    .map((text) => ({ text })),
  fc.uint8Array({ maxLength: 200 }).map((binary) => ({ binary })),
  // Text frames of raw bytes: often invalid UTF-8 (closed with 1007 by the ws library).
  fc.uint8Array({ minLength: 1, maxLength: 50 }).map((rawText) => ({ rawText })),
);

/** What PROTOCOL.md §4.2/§4.3 says must come back for a frame that is not a valid message at all. */
function isMalformed(frame: Frame): boolean {
  if ('rawText' in frame) return false; // not checked: valid UTF-8 or not, either answer is right
  if ('binary' in frame) return true;
  let message: unknown;
  try {
    message = JSON.parse(frame.text);
  } catch {
    return true;
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return true;
  return !TYPES.has((message as { type?: unknown }).type as string);
}

describe('fuzz', () => {
  let app: INestApplication;
  let baseUrl: string;
  beforeAll(async () => {
    ({ app, baseUrl } = await startStressApp());
  });
  afterAll(async () => {
    await app.close();
  });

  it(`WebSocket: ${WS_FRAMES} fuzzed frames are each answered per PROTOCOL.md §4, no crash`, async () => {
    let socket: WebSocket | undefined;
    let inbox: Record<string, unknown>[] = [];
    let pong = deferred<void>();
    let closed = deferred<number>();
    let used = 0;
    const connect = async () => {
      socket?.terminate();
      const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`);
      const ended = deferred<number>();
      closed = ended;
      ws.on('message', (raw) => {
        if (ws !== socket) return; // an earlier connection's last words
        const message = JSON.parse(wsText(raw)) as Record<string, unknown>;
        if (message.type === 'pong') pong.resolve();
        else inbox.push(message);
      });
      ws.on('close', (code) => ended.resolve(code));
      ws.on('error', () => undefined);
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      socket = ws;
      used = 0;
    };
    const problems: string[] = [];
    const closeCodes = new Map<number, number>();
    let answered = 0;
    await connect();
    await fc.assert(
      fc.asyncProperty(frameArbitrary, async (frame) => {
        // A fresh connection now and then, so accepted subscriptions do not pile up.
        if (used++ >= 50 || socket!.readyState !== WebSocket.OPEN) await connect();
        inbox = [];
        pong = deferred<void>();
        if ('binary' in frame) socket!.send(frame.binary, { binary: true });
        else if ('rawText' in frame) socket!.send(Buffer.from(frame.rawText), { binary: false });
        else socket!.send(frame.text);
        socket!.send('{"type":"ping"}');
        const outcome = await within(
          Promise.race([pong.promise.then(() => 'pong' as const), closed.promise.then((code) => code)]),
          5000,
          `answer to ${JSON.stringify(frame).slice(0, 200)}`,
        );
        if (outcome !== 'pong') {
          closeCodes.set(outcome, (closeCodes.get(outcome) ?? 0) + 1);
          // The only closes PROTOCOL.md allows for a client's frame: 1007 (invalid UTF-8), 1009, 4400.
          if (![1007, 1009, 4400].includes(outcome)) problems.push(`close ${outcome} after ${JSON.stringify(frame).slice(0, 200)}`);
          return;
        }
        answered++;
        for (const message of inbox) {
          if (!SERVER_TYPES.has(message.type as string)) problems.push(`unknown reply ${JSON.stringify(message).slice(0, 200)}`);
          if (message.type === 'error') {
            const error = message.error as { code?: string; message?: string };
            if (!STREAM_ERROR_CODES.includes(error.code as never)) problems.push(`bad code ${JSON.stringify(message).slice(0, 200)}`);
            if (typeof error.message !== 'string' || Buffer.byteLength(error.message) > MAX_ERROR_MESSAGE_BYTES) {
              problems.push(`bad message ${JSON.stringify(message).slice(0, 200)}`);
            }
          }
        }
        if (isMalformed(frame)) {
          const refused = inbox.some((m) => m.type === 'error' && m.id === undefined && (m.error as { code: string }).code === 'BAD_REQUEST');
          if (!refused) problems.push(`no BAD_REQUEST for ${JSON.stringify(frame).slice(0, 200)}`);
        }
      }),
      { numRuns: WS_FRAMES, endOnFailure: true },
    );
    socket?.terminate();
    const healthy = await healthySse(baseUrl);
    const left = await settle(() => app.get(StreamTracker).size, 0, 10_000);
    const scenario = `fuzz WS ×${WS_FRAMES}`;
    record({ scenario, transport: 'ws', figure: 'answered (pong after)', value: String(answered), limit: '-', ok: true });
    record({ scenario, transport: 'ws', figure: 'closes', value: JSON.stringify(Object.fromEntries(closeCodes)), limit: '1007/1009/4400', ok: true });
    record({ scenario, transport: 'ws', figure: 'protocol violations', value: String(problems.length), limit: '0', ok: problems.length === 0 });
    record({
      scenario,
      transport: 'ws',
      figure: 'healthy after / subs left',
      value: `${healthy} / ${left}`,
      limit: 'true / 0',
      ok: healthy && left === 0,
    });
    expect(problems.slice(0, 5)).toEqual([]);
    expect(healthy).toBe(true);
    expect(left).toBe(0);
  });

  it(`SSE: ${SSE_REQUESTS} fuzzed requests are each answered per PROTOCOL.md §3, never 5xx, no header injection`, async () => {
    const headerSafe = fc.string({ maxLength: 300 }).filter((s) => /^[\x20-\x7e]*$/.test(s));
    const requestArbitrary = fc.record({
      path: fc.oneof(
        fc.constantFrom('/stress/tick', '/stress/nope', `/stress/${'x'.repeat(600)}`, '/stress/%E0%A4%A', '/stress/..%2F..%2Fetc'),
        fc.string({ maxLength: 50 }).map((s) => `/stress/${encodeURIComponent(s)}`),
      ),
      query: fc.array(
        fc.tuple(
          fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('params', 'lastEventId', '__proto__', 'constructor')),
          fc.oneof(fc.string({ maxLength: 100 }), fc.json({ maxDepth: 3 })),
        ),
        { maxLength: 6 },
      ),
      // (A value with CR/LF is refused by Node's client itself: counted as status -1.)
      lastEventId: fc.option(
        fc.oneof(
          { weight: 8, arbitrary: headerSafe },
          { weight: 1, arbitrary: fc.constant('x'.repeat(2000)) },
          { weight: 1, arbitrary: fc.constant('a\r\nX-Injected: 1') },
        ),
      ),
      accept: fc.boolean(),
    });
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArbitrary, async (r) => {
        const query = new URLSearchParams(r.query).toString();
        const headers: Record<string, string> = {};
        if (r.accept) headers.accept = 'text/event-stream';
        if (r.lastEventId !== null) headers['last-event-id'] = r.lastEventId;
        const response = await within(
          rawRequest(`${baseUrl}${r.path}${query ? `?${query}` : ''}`, headers),
          5000,
          `answer to ${JSON.stringify(r).slice(0, 300)}`,
        );
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const what = `${response.status} for ${JSON.stringify(r).slice(0, 300)}`;
        if (response.status === -1) return; // the client would not send it (an invalid header)
        if (response.status >= 500) problems.push(what);
        if (Object.keys(response.headers).some((h) => h.startsWith('x-injected'))) problems.push(`header injection: ${what}`);
        if (response.status === 200 && !String(response.headers['content-type']).startsWith('text/event-stream')) {
          if (r.path.startsWith('/stress/tick')) problems.push(`200 without event stream: ${what}`);
        }
        if (response.status >= 400 && r.path === '/stress/tick') {
          // A stream's own refusal: the JSON body of PROTOCOL.md §3.2 with the table's status.
          try {
            const body = JSON.parse(response.body) as { code: keyof typeof HTTP_STATUS_BY_CODE; message: string };
            if (HTTP_STATUS_BY_CODE[body.code] !== response.status || typeof body.message !== 'string')
              problems.push(`body: ${what} ${response.body.slice(0, 200)}`);
          } catch {
            problems.push(`non-JSON refusal: ${what} ${response.body.slice(0, 200)}`);
          }
        }
      }),
      { numRuns: SSE_REQUESTS, endOnFailure: true },
    );
    const healthy = await healthySse(baseUrl);
    const left = await settle(() => app.get(StreamTracker).size, 0, 10_000);
    const scenario = `fuzz SSE ×${SSE_REQUESTS}`;
    record({
      scenario,
      transport: 'sse',
      figure: 'statuses',
      value: JSON.stringify(Object.fromEntries([...statuses].sort())),
      limit: 'no 5xx',
      ok: true,
    });
    record({ scenario, transport: 'sse', figure: 'protocol violations', value: String(problems.length), limit: '0', ok: problems.length === 0 });
    record({
      scenario,
      transport: 'sse',
      figure: 'healthy after / subs left',
      value: `${healthy} / ${left}`,
      limit: 'true / 0',
      ok: healthy && left === 0,
    });
    expect(problems.slice(0, 5)).toEqual([]);
    expect(healthy).toBe(true);
    expect(left).toBe(0);
  });
});

/** One request; for an event stream, the head and the first bytes, then it is dropped. */
function rawRequest(url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve) => {
    let req: http.ClientRequest;
    try {
      req = http.get(url, { agent: false, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          if (res.headers['content-type']?.startsWith('text/event-stream')) req.destroy();
        });
        const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => undefined);
      });
    } catch {
      return resolve({ status: -1, headers: {}, body: '' });
    }
    req.on('error', () => undefined);
  });
}

async function healthySse(baseUrl: string): Promise<boolean> {
  const response = await rawRequest(`${baseUrl}/stress/tick`, { accept: 'text/event-stream' });
  return response.status === 200;
}
