import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  GRPC_STATUS_BY_CODE,
  GrpcTransport,
  STREAM_ERROR_CODES,
  StreamErrorCode,
  StreamTracker,
  type LonglinkModuleOptions,
  type StreamHandle,
  tracked,
} from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { FLOOD_QUEUE_BYTES, Probe, conformanceModule } from '../fixtures/probe.js';
import { DEMO_PROTO, endFromStatus, streamsClient, toStruct } from '../harness/grpc.harness.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { deferred, until, within } from '../harness/util.js';

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const LOADER = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true };

async function start(grpcOptions: Record<string, unknown> = {}) {
  const options: LonglinkModuleOptions = {
    grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1', ...grpcOptions },
  };
  const { app } = await createHttpApp('express', conformanceModule(options));
  const port = app.get(GrpcTransport).port;
  return { app, port, client: streamsClient(port), probe: app.get(Probe), tracker: app.get(StreamTracker) };
}

/** Runs one generic call to its end. */
function run(
  client: ReturnType<typeof streamsClient>,
  stream: string,
  params: Record<string, unknown> = {},
  options: { metadata?: grpc.Metadata; deadline?: number } = {},
) {
  const events: { id: string; data: unknown }[] = [];
  const status = deferred<grpc.StatusObject>();
  const call = client.Subscribe(
    { stream, params: toStruct(params) },
    options.metadata ?? new grpc.Metadata(),
    options.deadline ? { deadline: Date.now() + options.deadline } : {},
  );
  call.on('data', (e: { id: string; data: Buffer }) => events.push({ id: e.id, data: JSON.parse(e.data.toString()) }));
  call.on('error', () => undefined);
  call.on('status', (s: grpc.StatusObject) => status.resolve(s));
  return { call, events, status: status.promise };
}

describe('gRPC transport', () => {
  let ctx: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    ctx = await start();
  });
  afterAll(async () => {
    ctx.client.close();
    await ctx.app.close();
  });
  beforeEach(() => ctx.probe.reset());

  it('binds port 0 and reports the real port', () => {
    expect(ctx.port).toBeGreaterThan(0);
  });

  it.each(STREAM_ERROR_CODES)('maps %s to its gRPC status and the longlink-error-code trailer', async (code) => {
    const { status } = run(ctx.client, 'probe/error', { code });
    const s = await status;
    expect(s.code).toBe(GRPC_STATUS_BY_CODE[code]);
    expect(s.details).toBe(`probe error ${code}`);
    expect(s.metadata.get('longlink-error-code')).toEqual([code]);
    if (code === StreamErrorCode.BAD_REQUEST) expect(s.metadata.get('longlink-error-details')).toEqual(['{"field":"x"}']);
  });

  it('the table is the one the issue asks for', () => {
    expect(GRPC_STATUS_BY_CODE).toMatchObject({
      BAD_REQUEST: grpc.status.INVALID_ARGUMENT,
      NOT_FOUND: grpc.status.NOT_FOUND,
      UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
      PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
      RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
      INTERNAL: grpc.status.INTERNAL,
      UNAVAILABLE: grpc.status.UNAVAILABLE,
    });
  });

  it('completion ends the call with OK', async () => {
    const { events, status } = run(ctx.client, 'demo/counter', { count: 2, intervalMs: 0 });
    expect((await status).code).toBe(grpc.status.OK);
    expect(events).toEqual([
      { id: '0', data: { n: 0 } },
      { id: '1', data: { n: 1 } },
    ]);
  });

  it('guards see metadata (authorization)', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer demo-token');
    const ok = run(ctx.client, 'demo/secure', {}, { metadata });
    expect((await ok.status).code).toBe(grpc.status.OK);
    expect(ok.events).toEqual([{ id: '1', data: { ok: true } }]);
    const refused = run(ctx.client, 'demo/secure');
    expect(endFromStatus(await refused.status)).toMatchObject({ code: 'UNAUTHENTICATED', native: grpc.status.UNAUTHENTICATED });
  });

  it('resumes from last-event-id metadata too', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('last-event-id', '7');
    const { events, status } = run(ctx.client, 'demo/counter', { count: 10, intervalMs: 0 }, { metadata });
    await status;
    expect(events.map((e) => e.id)).toEqual(['8', '9']);
  });

  it('a deadline ends with DEADLINE_EXCEEDED and leaves no subscription behind', async () => {
    const { events, status } = run(ctx.client, 'probe/hold', {}, { deadline: 150 });
    expect((await status).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(events).toHaveLength(1);
    await within(ctx.probe.torndown.promise, 1000, 'teardown after deadline');
    await until(() => ctx.tracker.size === 0, 1000, 'tracker empty');
    expect(ctx.probe.active).toBe(0);
  });

  it('a client that stops reading: RESOURCE_EXHAUSTED (disconnect), queue bounded, upstream stopped', async () => {
    const added: StreamHandle[] = [];
    const add = ctx.tracker.add.bind(ctx.tracker);
    ctx.tracker.add = (h, info) => (added.push(h), add(h, info));
    const { call, status } = run(ctx.client, 'probe/flood-disconnect', { events: '6000' });
    call.pause();
    try {
      await within(ctx.probe.torndown.promise, 5000, 'slow consumer cut');
    } finally {
      ctx.tracker.add = add;
    }
    expect(added[0]!.maxQueuedBytes).toBeLessThanOrEqual(FLOOD_QUEUE_BYTES);
    expect(ctx.probe.emitted).toBeLessThan(6000);
    call.resume();
    // Reading again within the grace time, the client gets the status behind the queued messages.
    const s = await within(status, 5000, 'status');
    expect(s.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(s.metadata.get('longlink-error-code')).toEqual(['RESOURCE_EXHAUSTED']);
  });

  it('a broadcast value is serialised once for every gRPC subscriber', async () => {
    const calls = Array.from({ length: 3 }, () => run(ctx.client, 'probe/broadcast'));
    await until(() => ctx.tracker.size === 3, 2000, 'subscribed');
    let serialisations = 0;
    const value = { toJSON: () => (serialisations++, { price: 7 }) };
    ctx.probe.broadcast$.next(tracked('b1', value));
    await until(() => calls.every((c) => c.events.length === 1), 2000, 'delivered');
    expect(serialisations).toBe(1);
    expect(calls.map((c) => c.events[0])).toEqual(calls.map(() => ({ id: 'b1', data: { price: 7 } })));
    for (const c of calls) c.call.cancel();
    await until(() => ctx.tracker.size === 0, 2000, 'released');
  });

  it('serves the standard health service', async () => {
    const def = protoLoader.loadSync(root('node_modules/grpc-health-check/proto/health/v1/health.proto'), LOADER);
    const pkg = grpc.loadPackageDefinition(def) as never as {
      grpc: {
        health: {
          v1: {
            Health: new (
              a: string,
              c: grpc.ChannelCredentials,
            ) => grpc.Client & { Check: (request: object, callback: (error: Error | null, reply: { status: string }) => void) => void };
          };
        };
      };
    };
    const health = new pkg.grpc.health.v1.Health(`127.0.0.1:${ctx.port}`, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) =>
        health.Check({ service }, (error: Error | null, reply: { status: string }) => (error ? reject(error) : resolve(reply))),
      );
    expect(await check('')).toEqual({ status: 'SERVING' });
    expect(await check('longlink.v1.Streams')).toEqual({ status: 'SERVING' });
    health.close();
  });

  it('serves server reflection listing the streaming service', async () => {
    const def = protoLoader.loadSync(root('node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'), LOADER);
    const pkg = grpc.loadPackageDefinition(def) as never as {
      grpc: {
        reflection: {
          v1: {
            ServerReflection: new (
              a: string,
              c: grpc.ChannelCredentials,
            ) => grpc.Client & {
              ServerReflectionInfo(): grpc.ClientDuplexStream<object, { listServicesResponse?: { service: { name: string }[] } }>;
            };
          };
        };
      };
    };
    const client = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${ctx.port}`, grpc.credentials.createInsecure());
    const call = client.ServerReflectionInfo();
    const reply = new Promise<{ name: string }[]>((resolve) =>
      call.on('data', (r: { listServicesResponse?: { service: { name: string }[] } }) => resolve(r.listServicesResponse?.service ?? [])),
    );
    call.write({ listServices: '' });
    const services = (await within(reply, 2000, 'reflection reply')).map((s) => s.name);
    call.end();
    client.close();
    expect(services).toContain('longlink.v1.Streams');
  });
});

describe('gRPC write paths', () => {
  it("with server interceptors, messages go through grpc-js' own write path: the interceptor sees each one", async () => {
    const sent: unknown[] = [];
    const interceptor: grpc.ServerInterceptor = (_method, call) =>
      new grpc.ServerInterceptingCall(call, {
        sendMessage: (message, next) => {
          sent.push(message);
          next(message);
        },
      });
    const ctx = await start({ channelOptions: { interceptors: [interceptor] } });
    try {
      const { events, status } = run(ctx.client, 'demo/counter', { count: 3, intervalMs: 0 });
      expect((await status).code).toBe(grpc.status.OK);
      expect(events.map((e) => e.data)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
      expect(sent).toHaveLength(3);
    } finally {
      ctx.client.close();
      await ctx.app.close();
    }
  });

  it('a message over grpc.maxSendMessageLength still ends the call with RESOURCE_EXHAUSTED', async () => {
    const ctx = await start({ maxSendMessageLength: 200 });
    try {
      const small = run(ctx.client, 'probe/broadcast');
      await until(() => ctx.tracker.size === 1, 2000, 'subscribed');
      ctx.probe.broadcast$.next(tracked('s1', { pad: 'x'.repeat(10) }));
      await until(() => small.events.length === 1, 2000, 'small value delivered');
      ctx.probe.broadcast$.next(tracked('s2', { pad: 'x'.repeat(1000) }));
      const s = await within(small.status, 2000, 'status');
      expect(s.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(small.events.map((e) => e.id)).toEqual(['s1']);
      await until(() => ctx.tracker.size === 0, 2000, 'released');
    } finally {
      ctx.client.close();
      await ctx.app.close();
    }
  });
});

describe('gRPC typed bindings (the sample)', () => {
  it('serves demo/counter as sample.v1.Demo/Counter: request → params, value → response message', async () => {
    process.env.GRPC_PORT = '0';
    const { app } = await createHttpApp('express', AppModule);
    const port = app.get(GrpcTransport).port;
    const def = protoLoader.loadSync(root('proto/sample/v1/demo.proto'), LOADER);
    const pkg = grpc.loadPackageDefinition(def) as never as {
      sample: {
        v1: {
          Demo: new (
            a: string,
            c: grpc.ChannelCredentials,
          ) => grpc.Client & { Counter(req: object, md?: grpc.Metadata): grpc.ClientReadableStream<{ n: number }> };
        };
      };
    };
    const demo = new pkg.sample.v1.Demo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = (request: object, metadata = new grpc.Metadata()) => {
      const replies: { n: number }[] = [];
      const c = demo.Counter(request, metadata);
      c.on('data', (r: { n: number }) => replies.push(r));
      c.on('error', () => undefined);
      return { replies, status: new Promise<grpc.StatusObject>((resolve) => c.on('status', resolve)) };
    };
    try {
      const ok = call({ from: 3, count: 3, intervalMs: 0 });
      expect((await ok.status).code).toBe(grpc.status.OK);
      expect(ok.replies).toEqual([{ n: 3 }, { n: 4 }, { n: 5 }]);
      const md = new grpc.Metadata();
      md.set('last-event-id', '4');
      const resumed = call({ from: 3, count: 3, intervalMs: 0 }, md);
      await resumed.status;
      expect(resumed.replies).toEqual([{ n: 5 }]);
      const invalid = await call({ count: 20_000 }).status;
      expect(invalid.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(invalid.metadata.get('longlink-error-code')).toEqual(['BAD_REQUEST']);
      // Unset fields take the DTO's defaults (count 10).
      const defaults = call({ intervalMs: 0 });
      await defaults.status;
      expect(defaults.replies).toHaveLength(10);
    } finally {
      demo.close();
      await app.close();
    }
  });

  it('fails bootstrap when a binding names a method that is not in the protos', async () => {
    const { Controller, Module } = await import('@nestjs/common');
    const { of } = await import('rxjs');
    const { LonglinkModule, Stream } = await import('../../lib/index.js');
    @Controller('x')
    class Bad {
      @Stream('y', { grpc: { service: 'Demo', method: 'Nope' } })
      y() {
        return of(1);
      }
    }
    @Module({
      imports: [LonglinkModule.forRoot({ grpc: { url: '127.0.0.1:0', protoPath: root('proto/sample/v1/demo.proto'), package: 'sample.v1' } })],
      controllers: [Bad],
    })
    class BadModule {}
    await expect(createHttpApp('express', BadModule)).rejects.toThrow('Demo/Nope');
  });
});
