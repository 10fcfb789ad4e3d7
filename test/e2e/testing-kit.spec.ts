import { Controller, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Observable, finalize, interval, map } from 'rxjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LonglinkModule, Stream, StreamHub, StreamParams, tracked, type StreamEvent } from '../../lib/index.js';
import { StreamTester } from '../../lib/testing/index.js';
import { DemoAuthGuard } from '../../sample/demo/demo-auth.guard.js';
import { DemoModule } from '../../sample/demo/demo.module.js';
import { DEMO_PROTO } from '../harness/grpc.harness.js';
import { until } from '../harness/util.js';
import { countStream, type CountEvent, type CountParams } from '../fixtures/contract/streams.contract.js';

/** Streams made for the kit's own checks: teardown, hub publishes right after subscribe, timers, a contract. */
@Controller('kit')
class KitController {
  upstreams = 0;
  constructor(private readonly hub: StreamHub) {}

  @Stream('room')
  room(@StreamParams() p: { room: string }): Observable<StreamEvent> {
    return this.hub.stream(`kit:${p.room}`);
  }

  @Stream('ticks')
  ticks(): Observable<{ tick: number }> {
    this.upstreams++;
    return interval(1000).pipe(
      map((tick) => ({ tick })),
      finalize(() => this.upstreams--),
    );
  }
}

@Controller('typed')
class TypedController {
  @Stream(countStream)
  count(@StreamParams() p: CountParams): Observable<StreamEvent<CountEvent>> {
    return new Observable((s) => {
      for (let n = 0; n < (p.count ?? 2); n++) s.next(tracked(n, { n, label: p.label ?? '' }));
      s.complete();
    });
  }
}

@Module({
  imports: [
    LonglinkModule.forRoot({
      isGlobal: true,
      ws: { path: '/ws' },
      grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1' },
    }),
    DemoModule,
  ],
  controllers: [KitController, TypedController],
})
class KitAppModule {}

async function createApp(configure?: (b: ReturnType<typeof Test.createTestingModule>) => void) {
  const builder = Test.createTestingModule({ imports: [KitAppModule] });
  configure?.(builder);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({ logger: false, forceCloseConnections: true });
  await app.init();
  return app;
}

const TRANSPORTS = ['in-process', 'sse', 'ws', 'grpc'] as const;

describe.each(TRANSPORTS)('nestjs-longlink/testing: StreamTester (%s)', (transport) => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    // Testers first (their clients), then the apps.
    for (const o of open.splice(0)) await o.close();
  });
  async function tester(configure?: Parameters<typeof createApp>[0]) {
    const app = await createApp(configure);
    const t = await StreamTester.create(app, { transport });
    open.push(t, app);
    return { app, tester: t };
  }

  it('runs the full pipeline: pipes validate and transform params; take() and complete()', async () => {
    const { tester: t } = await tester();
    const sub = await t.subscribe<{ n: number }>('demo/counter', { count: 4, intervalMs: 0 });
    expect(await sub.take(2)).toEqual([{ n: 0 }, { n: 1 }]);
    expect(await sub.complete()).toEqual([{ n: 2 }, { n: 3 }]);
    expect(sub.events.map((e) => e.id)).toEqual(['0', '1', '2', '3']);
    const invalid = await t.subscribe('demo/counter', { count: 'many' });
    expect((await invalid.expectError('BAD_REQUEST')).message).toMatch(/count/);
  });

  it('guards run: refused without credentials, accepted with a header; overrideGuard works', async () => {
    const { tester: t } = await tester();
    await (await t.subscribe('demo/secure')).expectError('UNAUTHENTICATED');
    const ok = await t.subscribe('demo/secure', {}, { headers: { authorization: 'Bearer demo-token' } });
    expect(await ok.next()).toBeTruthy();
    ok.unsubscribe();

    const { tester: open } = await tester((b) => b.overrideGuard(DemoAuthGuard).useValue({ canActivate: () => true }));
    const sub = await open.subscribe('demo/secure');
    expect(await sub.next()).toBeTruthy();
    sub.unsubscribe();
  });

  it('subscribe() resolves once the server holds the subscription: a publish right after is never lost', async () => {
    const { app, tester: t } = await tester();
    const hub = app.get(StreamHub);
    for (let i = 0; i < 20; i++) {
      const sub = await t.subscribe<{ i: number }>('kit/room', { room: `r${i}` });
      await hub.publish(`kit:r${i}`, { i });
      expect(await sub.next()).toEqual({ i });
      sub.unsubscribe();
    }
  });

  it('unsubscribe() tears the handler down; unknown streams are NOT_FOUND', async () => {
    const { app, tester: t } = await tester();
    const controller = app.get(KitController);
    const sub = await t.subscribe('kit/ticks');
    expect(controller.upstreams).toBe(1);
    sub.unsubscribe();
    // In process at once; over a socket once the server has seen the client go.
    await until(() => controller.upstreams === 0, 5000, 'handler torn down');
    const missing = await t.subscribe('kit/nope');
    expect((await missing.expectError('NOT_FOUND')).message).toContain('kit/nope');
  });

  it('takes a typed contract', async () => {
    const { tester: t } = await tester();
    const sub = await t.subscribe(countStream, { count: 2, label: 'x' });
    const values: CountEvent[] = await sub.complete();
    expect(values).toEqual([
      { n: 0, label: 'x' },
      { n: 1, label: 'x' },
    ]);
  });
});

describe('nestjs-longlink/testing: StreamTester in process', () => {
  const apps: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  it('works with fake timers', async () => {
    const app = await createApp();
    const t = await StreamTester.create(app);
    apps.push(app);
    vi.useFakeTimers();
    const sub = await t.subscribe<{ tick: number }>('kit/ticks');
    expect(sub.events).toEqual([]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(await sub.take(3)).toEqual([{ tick: 0 }, { tick: 1 }, { tick: 2 }]);
    sub.unsubscribe();
  });
});
