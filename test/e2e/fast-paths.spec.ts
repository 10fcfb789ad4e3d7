import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import compression from 'compression';
import { describe, expect, it } from 'vitest';
import { GrpcTransport, StreamTracker, type LonglinkModuleOptions } from '../../lib/index.js';
import { writePaths } from '../../lib/core/write-paths.js';
import { Probe, conformanceModule } from '../fixtures/probe.js';
import { DEMO_PROTO, streamsClient, toStruct } from '../harness/grpc.harness.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { createHttpApp, type HttpPlatform } from '../harness/sse.harness.js';
import { deferred, until, within, wsText } from '../harness/util.js';
import { openWs, type WsServerMessage } from '../harness/ws.harness.js';

/**
 * The fast paths reach into Node, `ws` and grpc-js internals and fall back to the ordinary
 * write silently when those change shape. These tests count which path wrote each frame
 * (lib/core/write-paths.ts), so a silent fallback fails them.
 */

/** What the counters moved by while `run` ran. */
async function counted(run: () => Promise<void>): Promise<typeof writePaths> {
  const before = { ...writePaths };
  await run();
  return Object.fromEntries(Object.entries(writePaths).map(([k, v]) => [k, v - before[k as keyof typeof writePaths]])) as typeof writePaths;
}

describe('SSE direct chunk path', () => {
  it.each<HttpPlatform>(['express', 'fastify'])('every event goes straight to the socket as a pre-built chunk (%s)', async (platform) => {
    const { app, baseUrl } = await createHttpApp(platform, conformanceModule());
    try {
      let ids: (string | undefined)[] = [];
      const moved = await counted(async () => {
        const res = await rawGet(`${baseUrl}/demo/counter?count=20&intervalMs=0`);
        ids = parseSse(await res.body())
          .filter((e) => e.data?.startsWith('{"n"'))
          .map((e) => e.id);
      });
      expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
      expect(moved.sseDirect).toBe(20);
      expect(moved.sseFallback).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('behind compression() (which wraps res.write) the ordinary path is taken, and counted', async () => {
    const { app, baseUrl } = await createHttpApp('express', conformanceModule(), (a) => a.use(compression()));
    try {
      const moved = await counted(async () => {
        const res = await rawGet(`${baseUrl}/demo/counter?count=5&intervalMs=0`, { 'accept-encoding': 'gzip' });
        expect(parseSse(await res.body()).filter((e) => e.id)).toHaveLength(5);
      });
      expect(moved.sseFallback).toBe(5);
      expect(moved.sseDirect).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('WebSocket frame path', () => {
  it.each([
    ['a client that offers permessage-deflate', { perMessageDeflate: true }],
    ['a client without it', { perMessageDeflate: false }],
  ] as const)('every next frame is written pre-built to the socket, %s (the extension is never negotiated)', async (_, clientOptions) => {
    const { app, baseUrl } = await createHttpApp('express', conformanceModule({ ws: { path: '/ws' } }));
    try {
      const ws = await openWs(`${baseUrl.replace('http', 'ws')}/ws`, clientOptions);
      // Pre-built frames are uncompressed: the server must not agree to compress.
      expect(ws.extensions).toBe('');
      const messages: WsServerMessage[] = [];
      const done = deferred();
      ws.on('message', (raw, isBinary) => {
        expect(isBinary).toBe(false);
        const message = JSON.parse(wsText(raw)) as WsServerMessage;
        messages.push(message);
        if (message.type === 'complete' || message.type === 'error') done.resolve();
      });
      const moved = await counted(async () => {
        ws.send(JSON.stringify({ type: 'subscribe', id: 'a', stream: 'demo/counter', params: { count: 20, intervalMs: 0 } }));
        await within(done.promise, 5000, 'complete');
      });
      expect(messages.filter((m) => m.type === 'next').map((m) => (m as { data?: unknown }).data)).toEqual(
        Array.from({ length: 20 }, (_, n) => ({ n })),
      );
      expect(messages.at(-1)).toMatchObject({ type: 'complete', id: 'a' });
      expect(moved.wsFrame).toBe(20);
      ws.close();
    } finally {
      await app.close();
    }
  });
});

describe('gRPC direct write', () => {
  const LOADER = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true };

  async function start(grpcOptions: Record<string, unknown> = {}) {
    const options: LonglinkModuleOptions = { grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1', ...grpcOptions } };
    const { app } = await createHttpApp('express', conformanceModule(options));
    const port = app.get(GrpcTransport).port;
    return { app, port, client: streamsClient(port), probe: app.get(Probe), tracker: app.get(StreamTracker) };
  }

  function subscribe(client: ReturnType<typeof streamsClient>, stream: string, params: Record<string, unknown>) {
    const events: { id: string; data: unknown }[] = [];
    const status = deferred<grpc.StatusObject>();
    const call = client.Subscribe({ stream, params: toStruct(params) });
    call.on('data', (e: { id: string; data: Buffer }) => events.push({ id: e.id, data: JSON.parse(e.data.toString()) }));
    call.on('error', () => undefined);
    call.on('status', status.resolve);
    return { call, events, status: status.promise };
  }

  it('generic and typed methods write every message straight to the HTTP/2 stream', async () => {
    const ctx = await start();
    const def = protoLoader.loadSync(fileURLToPath(new URL('../../proto/sample/v1/demo.proto', import.meta.url)), LOADER);
    const pkg = grpc.loadPackageDefinition(def) as never as {
      sample: {
        v1: { Demo: new (a: string, c: grpc.ChannelCredentials) => grpc.Client & { Counter(req: object): grpc.ClientReadableStream<{ n: number }> } };
      };
    };
    const demo = new pkg.sample.v1.Demo(`127.0.0.1:${ctx.port}`, grpc.credentials.createInsecure());
    try {
      const generic = await counted(async () => {
        const { events, status } = subscribe(ctx.client, 'demo/counter', { count: 20, intervalMs: 0 });
        expect((await within(status, 5000, 'status')).code).toBe(grpc.status.OK);
        expect(events).toHaveLength(20);
      });
      expect(generic.grpcDirect).toBe(20);
      expect(generic.grpcFallback).toBe(0);
      const typed = await counted(async () => {
        const replies: { n: number }[] = [];
        const call = demo.Counter({ count: 5, intervalMs: 0 });
        call.on('data', (r: { n: number }) => replies.push(r));
        await within(new Promise((resolve) => call.on('status', resolve)), 5000, 'typed status');
        expect(replies).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
      });
      expect(typed.grpcDirect).toBe(5);
      expect(typed.grpcFallback).toBe(0);
    } finally {
      demo.close();
      ctx.client.close();
      await ctx.app.close();
    }
  });

  it('with a server interceptor the ordinary path is taken, and counted', async () => {
    const interceptor: grpc.ServerInterceptor = (_method, call) => new grpc.ServerInterceptingCall(call);
    const ctx = await start({ channelOptions: { interceptors: [interceptor] } });
    try {
      const moved = await counted(async () => {
        const { events, status } = subscribe(ctx.client, 'demo/counter', { count: 5, intervalMs: 0 });
        expect((await within(status, 5000, 'status')).code).toBe(grpc.status.OK);
        expect(events).toHaveLength(5);
      });
      expect(moved.grpcFallback).toBe(5);
      expect(moved.grpcDirect).toBe(0);
    } finally {
      ctx.client.close();
      await ctx.app.close();
    }
  });

  it('a client that stays paused past grpc.disconnectGraceMs is cut (HTTP/2 stream reset) on the direct path', async () => {
    // A small queue, and events paced so that the client's HTTP/2 window fills before the queue
    // overflows: the RESOURCE_EXHAUSTED status then waits behind bytes the client never takes.
    const options: LonglinkModuleOptions = {
      grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1', disconnectGraceMs: 300 },
      flowControl: { maxQueueBytes: 64 * 1024, policy: 'disconnect' },
    };
    const { app } = await createHttpApp('express', conformanceModule(options));
    const port = app.get(GrpcTransport).port;
    const client = streamsClient(port);
    const probe = app.get(Probe);
    const tracker = app.get(StreamTracker);
    try {
      const moved = await counted(async () => {
        const { call, events, status } = subscribe(client, 'probe/broadcast', {});
        call.pause();
        await until(() => tracker.size === 1, 2000, 'subscribed');
        const pad = 'x'.repeat(8192);
        let sent = 0;
        for (; sent < 2000 && tracker.size > 0; sent++) {
          probe.broadcast$.next({ i: sent, pad } as never);
          await new Promise((r) => setTimeout(r, 1));
        }
        // The queue overflowed: the subscription is gone (the broadcast is not delivered to it any more).
        expect(tracker.size, `still subscribed after ${sent} events`).toBe(0);
        // Never resumed: only the reset after the grace time can end the call.
        const s = await within(status, 5000, 'call ended by the reset');
        expect(s.code).toBe(grpc.status.CANCELLED);
        expect(s.metadata.get('longlink-error-code')).toEqual([]);
        expect(events.length).toBeLessThan(sent);
      });
      expect(moved.grpcDirect).toBeGreaterThan(0);
      expect(moved.grpcFallback).toBe(0);
    } finally {
      client.close();
      await app.close();
    }
  });
});
