import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StreamTracker } from '../../lib/index.js';
import { writePaths } from '../../lib/core/write-paths.js';
import { DemoController } from '../../sample/demo/demo.controller.js';
import { Probe, conformanceModule } from '../fixtures/probe.js';
import { collect, type HarnessFactory, type TransportHarness } from '../harness/harness.js';
import { until, within } from '../harness/util.js';

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

/**
 * The cases every transport must pass, written against the harness interface only.
 * A transport joins by calling this with its harness factory.
 */
export function runStreamConformance(factory: HarnessFactory, { globalGuard = true } = {}): void {
  const label = `${factory().label}${globalGuard ? '' : ', no global guard (synchronous open path)'}`;

  describe(`conformance: ${label}`, () => {
    let h: TransportHarness;
    let probe: Probe;
    let tracker: StreamTracker;

    beforeAll(async () => {
      h = factory();
      await h.start(conformanceModule(h.moduleOptions, { globalGuard }));
      probe = h.app.get(Probe);
      tracker = h.app.get(StreamTracker);
    });
    afterAll(() => h.stop());
    beforeEach(() => probe.reset());

    const settled = () => until(() => tracker.size === 0, 2000, 'all subscriptions released');
    // Every case leaves no subscription behind, whatever it asserts itself.
    afterEach(async () => {
      await until(() => tracker.size === 0 && probe.active === 0, 2000, 'subscriptions and upstreams released after the case');
    });

    it('demo/counter emits from..from+count-1 with ids, then completes', async () => {
      const { events, end } = await collect(h.subscribe('demo/counter', { params: { from: 5, count: 4, intervalMs: 0 } }));
      expect(end).toEqual({ kind: 'complete' });
      expect(events).toEqual(range(5, 4).map((n) => ({ id: String(n), data: { n } })));
      await settled();
    });

    it('demo/counter with an interval keeps order', async () => {
      const { events, end } = await collect(h.subscribe('demo/counter', { params: { count: 3, intervalMs: 5 } }));
      expect(end.kind).toBe('complete');
      expect(events.map((e) => e.data)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
    });

    it('resumes after a last event id with exactly the rest', async () => {
      const { events, end } = await collect(h.subscribe('demo/counter', { params: { from: 0, count: 10, intervalMs: 0 }, lastEventId: '6' }));
      expect(end.kind).toBe('complete');
      expect(events.map((e) => e.id)).toEqual(['7', '8', '9']);
    });

    it('resuming after the last event completes with nothing', async () => {
      const { events, end } = await collect(h.subscribe('demo/counter', { params: { count: 3, intervalMs: 0 }, lastEventId: '2' }));
      expect(events).toEqual([]);
      expect(end.kind).toBe('complete');
    });

    it.each([
      [{ count: 0 }, 'count'],
      [{ count: 10_001 }, 'count'],
      [{ count: 'ten' }, 'count'],
      [{ intervalMs: 1.5 }, 'intervalMs'],
      [{ from: 'x' }, 'from'],
      [{ unknown: 1 }, 'unknown'],
    ])('invalid params %j are refused with BAD_REQUEST naming %s', async (params, field) => {
      const { events, end } = await collect(h.subscribe('demo/counter', { params }));
      expect(events).toEqual([]);
      expect(end).toMatchObject({ kind: 'error', code: 'BAD_REQUEST' });
      expect(end.kind === 'error' && end.message).toContain(field);
    });

    it('a malformed last event id is refused with BAD_REQUEST', async () => {
      const { end } = await collect(h.subscribe('demo/counter', { lastEventId: 'abc' }));
      expect(end).toMatchObject({ kind: 'error', code: 'BAD_REQUEST' });
    });

    it('an unknown stream is NOT_FOUND', async () => {
      const { end } = await collect(h.subscribe('demo/nope'));
      expect(end).toMatchObject({ kind: 'error', code: 'NOT_FOUND' });
    });

    it('demo/secure refuses without a token (UNAUTHENTICATED) and serves with one', async () => {
      const refused = await collect(h.subscribe('demo/secure'));
      expect(refused.events).toEqual([]);
      expect(refused.end).toMatchObject({ kind: 'error', code: 'UNAUTHENTICATED' });
      const wrong = await collect(h.subscribe('demo/secure', { headers: { authorization: 'Bearer nope' } }));
      expect(wrong.end).toMatchObject({ kind: 'error', code: 'UNAUTHENTICATED' });
      const ok = await collect(h.subscribe('demo/secure', { headers: { authorization: 'Bearer demo-token' } }));
      expect(ok.events.map((e) => e.data)).toEqual([{ ok: true }]);
      expect(ok.end.kind).toBe('complete');
    });

    it('demo/fail: events, then INTERNAL with a generic message', async () => {
      const { events, end } = await collect(h.subscribe('demo/fail', { params: { after: 3 } }));
      expect(events.map((e) => e.data)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
      expect(end).toMatchObject({ kind: 'error', code: 'INTERNAL', message: 'Internal server error' });
      expect(JSON.stringify(end)).not.toContain('internal detail');
    });

    it('demo/fail with after=0 fails before any event', async () => {
      const { events, end } = await collect(h.subscribe('demo/fail', { params: { after: 0 } }));
      expect(events).toEqual([]);
      expect(end).toMatchObject({ kind: 'error', code: 'INTERNAL', message: 'Internal server error' });
    });

    it('runs global guard, class guard, method guard, interceptor, pipes, handler in order', async () => {
      const { events, end } = await collect(h.subscribe('probe/pipeline', { params: { echo: 'hi' } }));
      expect(end.kind).toBe('complete');
      expect(probe.log).toEqual([
        ...(globalGuard ? ['global-guard'] : []),
        'class-guard',
        'method-guard',
        'interceptor',
        'pipe:query',
        'handler',
        'interceptor-finalize',
      ]);
      // The interceptor saw each item (map), not one final value.
      expect(events.map((e) => e.data)).toEqual([
        { n: 1, echo: 'hi', intercepted: true },
        { n: 2, echo: 'hi', intercepted: true },
      ]);
    });

    it('the execution context tells a stream call apart and carries transport and headers', async () => {
      await collect(h.subscribe('probe/pipeline', { headers: { 'x-probe': 'yes' } }));
      const [guard, handler] = globalGuard ? probe.contexts : [undefined, probe.contexts[0]];
      if (globalGuard) expect(guard).toEqual({ type: 'longlink', isStream: true, transport: h.transport, auth: 'yes' });
      expect(handler).toMatchObject({ type: 'handler', transport: h.transport });
    });

    it('a global guard (APP_GUARD) refusal is PERMISSION_DENIED, before the handler runs; without one, plain streams open synchronously', async () => {
      if (!globalGuard) {
        // demo/clock has no enhancers, pipes or params: the synchronous path, on this transport too.
        const before = { ...writePaths };
        const clock = h.subscribe('demo/clock');
        await clock.waitForEvents(1);
        clock.cancel();
        await settled();
        expect(writePaths.openDirect - before.openDirect).toBe(1);
        expect(writePaths.openPipeline - before.openPipeline).toBe(0);
        return;
      }
      const before = { ...writePaths };
      const { events, end } = await collect(h.subscribe('probe/pipeline', { headers: { 'x-deny': '1' } }));
      expect(events).toEqual([]);
      expect(end).toMatchObject({ kind: 'error', code: 'PERMISSION_DENIED' });
      expect(probe.log).toEqual(['global-guard']);
      expect(writePaths.openDirect - before.openDirect).toBe(0);
    });

    it('pipes given as classes to @StreamParams / @LastEventId are resolved (injected) and run', async () => {
      const ok = await collect(h.subscribe('probe/class-pipes', { params: { n: '41' }, lastEventId: 'seen' }));
      expect(ok.end.kind).toBe('complete');
      expect(ok.events.map((e) => e.data)).toEqual([{ n: 42, last: 'seen!' }]);
      expect(probe.log).toContain('tag-pipe');
      const bad = await collect(h.subscribe('probe/class-pipes', { params: { n: 'abc' } }));
      expect(bad.events).toEqual([]);
      expect(bad.end).toMatchObject({ kind: 'error', code: 'BAD_REQUEST' });
    });

    it('exception filters map errors', async () => {
      const { end } = await collect(h.subscribe('probe/teapot'));
      expect(end).toMatchObject({ kind: 'error', code: 'CONFLICT', message: 'filtered: short and stout' });
      expect(probe.log).toContain('filter');
    });

    it("an interceptor's timeout() ends the stream with DEADLINE_EXCEEDED and tears it down", async () => {
      const { end } = await collect(h.subscribe('probe/timeout'));
      expect(end).toMatchObject({ kind: 'error', code: 'DEADLINE_EXCEEDED' });
      await within(probe.torndown.promise, 1000, 'teardown');
      expect(probe.active).toBe(0);
    });

    it('custom param decorators (createParamDecorator) get the stream context', async () => {
      const { events } = await collect(h.subscribe('probe/header', { headers: { 'x-probe': 'custom' } }));
      expect(events[0]?.data).toEqual({ header: 'custom' });
    });

    it('async iterables are streams too', async () => {
      const { events, end } = await collect(h.subscribe('probe/async-iterable'));
      expect(events).toEqual([
        { id: 'a', data: { n: 1 } },
        { id: 'b', data: { n: 2 } },
      ]);
      expect(end.kind).toBe('complete');
    });

    it('an event id with a line break ends the stream with INTERNAL', async () => {
      const { events, end } = await collect(h.subscribe('probe/bad-id'));
      expect(events).toEqual([]);
      expect(end).toMatchObject({ kind: 'error', code: 'INTERNAL' });
    });

    it('a client that cancels has its upstream torn down within 100 ms', async () => {
      const sub = h.subscribe('probe/hold');
      await sub.waitForEvents(1);
      expect(probe.active).toBe(1);
      sub.cancel();
      await within(probe.torndown.promise, 100, 'upstream teardown after cancel');
      expect(probe.active).toBe(0);
      await settled();
    });

    it.each([
      ['an async guard', 'probe/slow-guard', 0],
      ['an async handler', 'probe/slow-handler', 1],
    ])('a client that cancels while %s is pending: signal aborted within 100 ms, the upstream never starts', async (_what, stream, handlerCalls) => {
      const sub = h.subscribe(stream);
      const call = await within(probe.guardEntered.promise, 2000, 'pipeline entered');
      sub.cancel();
      const aborted = new Promise<void>((resolve) => call.signal.addEventListener('abort', () => resolve()));
      await within(call.signal.aborted ? Promise.resolve() : aborted, 100, 'abort signal');
      probe.releaseGuard.resolve(true);
      // Ready signal: the released pipeline has resumed (the async handler has run; the guard
      // case has no effect to wait for). What follows it is promise jobs only, no timer or I/O,
      // so they have all run at the next macrotask: a wrongly started upstream would show then.
      await until(() => probe.handlerCalls === handlerCalls, 2000, 'pipeline resumed');
      await new Promise((r) => setImmediate(r));
      await settled();
      expect(probe.handlerCalls).toBe(handlerCalls); // the async handler itself did run; its stream did not
      expect(probe.active).toBe(0);
    });

    it('demo/clock: one shared upstream for many subscribers, same events', async () => {
      const demo = h.app.get(DemoController);
      const a = h.subscribe('demo/clock');
      const b = h.subscribe('demo/clock');
      await a.waitForEvents(2);
      await b.waitForEvents(2);
      expect(demo.clockUpstreams).toBe(1);
      const last = a.events[1]!;
      expect(last.data).toEqual({ now: new Date(Number(last.id)).toISOString() });
      expect(b.events.map((e) => e.id)).toContain(last.id);
      a.cancel();
      b.cancel();
      await until(() => demo.clockUpstreams === 0, 1000, 'clock upstream released');
    });

    it('many subscriptions opened and cancelled leave nothing behind', async () => {
      const subs = Array.from({ length: 20 }, () => h.subscribe('probe/hold'));
      await Promise.all(subs.map((s) => s.waitForEvents(1)));
      expect(probe.active).toBe(20);
      for (const s of subs) s.cancel();
      await until(() => probe.active === 0, 2000, 'all upstreams torn down');
      await settled();
    });
  });

  describe(`shutdown: ${label}`, () => {
    it('app.close() ends open streams with UNAVAILABLE within 1 s and tears them down', async () => {
      const h = factory();
      await h.start(conformanceModule(h.moduleOptions, { globalGuard }));
      const probe = h.app.get(Probe);
      const subs = [h.subscribe('probe/hold'), h.subscribe('demo/clock')];
      await Promise.all(subs.map((s) => s.waitForEvents(1)));
      const started = Date.now();
      await within(h.app.close(), 1000, 'app.close()');
      const ends = await within(Promise.all(subs.map((s) => s.end)), 1000, 'clients see the end');
      expect(Date.now() - started).toBeLessThan(1000);
      for (const end of ends) expect(end).toMatchObject({ kind: 'error', code: 'UNAVAILABLE' });
      expect(probe.active).toBe(0);
      expect(h.app.get(DemoController).clockUpstreams).toBe(0);
      await h.stop().catch(() => undefined);
    });
  });
}
