import type { Server as HttpServer } from 'node:http';
import http from 'node:http';
import compression from 'compression';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { StreamTracker, type LonglinkModuleOptions, type StreamHandle } from '../../lib/index.js';
import { FLOOD_QUEUE_BYTES, Probe, conformanceModule } from '../fixtures/probe.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { createHttpApp, type HttpPlatform } from '../harness/sse.harness.js';
import { until, within } from '../harness/util.js';

async function start(platform: HttpPlatform, options: LonglinkModuleOptions = {}, configure?: (app: INestApplication) => void) {
  const { app, baseUrl } = await createHttpApp(platform, conformanceModule(options), configure);
  return { app, baseUrl, probe: app.get(Probe), tracker: app.get(StreamTracker) };
}

describe.each<HttpPlatform>(['express', 'fastify'])('SSE wire format (%s)', (platform) => {
  let ctx: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    ctx = await start(platform, { sse: { heartbeatMs: 40 } });
  });
  afterAll(() => ctx.app.close());
  beforeEach(() => ctx.probe.reset());

  it('frames events exactly: retry first, id + data, no event field, then event: complete', async () => {
    const res = await rawGet(`${ctx.baseUrl}/demo/counter?count=2&intervalMs=0`);
    expect(res.status).toBe(200);
    expect(res.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(res.res.headers['cache-control']).toContain('no-transform');
    const body = await res.body();
    expect(body).toBe('retry: 2000\n\nid: 0\ndata: {"n":0}\n\nid: 1\ndata: {"n":1}\n\nevent: complete\ndata: {}\n\n');
  });

  it('answers 204 with no body when the stream completes before any event', async () => {
    for (const path of ['/probe/empty', '/demo/counter?count=3', '/demo/counter?count=3&lastEventId=2']) {
      const res = await rawGet(`${ctx.baseUrl}${path}`, path.endsWith('count=3') ? { 'last-event-id': '2' } : {});
      expect(res.status, path).toBe(204);
      expect(await res.body()).toBe('');
    }
  });

  it('a stream that completes empty after the head was committed ends with event: complete', async () => {
    const res = await rawGet(`${ctx.baseUrl}/probe/empty-late`);
    expect(res.status).toBe(200);
    expect(parseSse(await res.body())).toEqual([{ retry: '2000' }, { event: 'complete', data: '{}' }]);
  });

  it.each([
    ['/demo/secure', {}, 401, 'UNAUTHENTICATED'],
    ['/demo/counter?count=0', {}, 400, 'BAD_REQUEST'],
    ['/demo/nope', { accept: 'text/event-stream' }, 404, 'NOT_FOUND'],
    ['/probe/pipeline', { 'x-deny': '1' }, 403, 'PERMISSION_DENIED'],
    ['/demo/fail?after=0', {}, 500, 'INTERNAL'],
    ['/probe/pipeline?params=%7Bnot-json', {}, 400, 'BAD_REQUEST'],
    ['/probe/pipeline?params=%5B1%5D', {}, 400, 'BAD_REQUEST'],
    ['/probe/pipeline?params=%7B%22a%22%3A%7B%22__proto__%22%3A%7B%7D%7D%7D', {}, 400, 'BAD_REQUEST'],
    ['/probe/pipeline?__proto__=1', {}, 400, 'BAD_REQUEST'],
  ])('refuses %s with the real status and a JSON body', async (path, headers, status, code) => {
    const res = await rawGet(`${ctx.baseUrl}${path}`, headers);
    expect(res.status).toBe(status);
    expect(res.res.headers['content-type']).toContain('application/json');
    const body = JSON.parse(await res.body()) as { code: string; message: string };
    expect(body.code).toBe(code);
    expect(typeof body.message).toBe('string');
    expect(body.message).not.toMatch(/at .*\.(js|ts):\d+/); // no stack
  });

  it.each([
    ['/probe/bad-error?kind=details', 400, 'BAD_REQUEST'],
    ['/probe/bad-error?kind=code', 500, 'INTERNAL'],
  ])('%s: an unserialisable error is still answered, and the server lives on', async (path, status, code) => {
    const res = await rawGet(`${ctx.baseUrl}${path}`);
    expect(res.status).toBe(status);
    expect(JSON.parse(await res.body())).toEqual({ code, message: code === 'INTERNAL' ? 'Internal server error' : 'circular details' });
    const late = await rawGet(`${ctx.baseUrl}${path}&late=1`);
    const events = parseSse(await late.body());
    expect(JSON.parse(events.at(-1)!.data!)).toMatchObject({ code });
    const alive = await rawGet(`${ctx.baseUrl}/demo/counter?count=1&intervalMs=0`);
    expect(alive.status).toBe(200);
    await alive.body();
  });

  it('HEAD answers the stream headers without opening the stream', async () => {
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = http.request(`${ctx.baseUrl}/probe/hold`, { method: 'HEAD', agent: false }, resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    res.resume();
    expect(ctx.probe.handlerCalls).toBe(0);
    expect(ctx.tracker.size).toBe(0);
  });

  it('an empty Last-Event-ID header defers to the query; lastEventId given twice is refused', async () => {
    const res = await rawGet(`${ctx.baseUrl}/demo/counter?count=5&intervalMs=0&lastEventId=3`, { 'last-event-id': '' });
    expect(
      parseSse(await res.body())
        .filter((e) => e.id)
        .map((e) => e.id),
    ).toEqual(['4']);
    const twice = await rawGet(`${ctx.baseUrl}/demo/counter?lastEventId=1&lastEventId=2`);
    expect(twice.status).toBe(400);
    await twice.body();
  });

  it('leaves unknown paths that do not ask for an event stream to the app', async () => {
    const res = await rawGet(`${ctx.baseUrl}/demo/nope`);
    expect(res.status).toBe(404);
    expect(JSON.parse(await res.body())).not.toHaveProperty('code');
  });

  it('reads params from the query string: repeated keys become arrays, params holds JSON', async () => {
    const repeated = await rawGet(`${ctx.baseUrl}/probe/pipeline?echo=a&echo=b`);
    const [, first] = parseSse(await repeated.body());
    expect(JSON.parse(first!.data!)).toMatchObject({ echo: ['a', 'b'] });
    const json = encodeURIComponent(JSON.stringify({ echo: { deep: [1, 2] } }));
    const nested = await rawGet(`${ctx.baseUrl}/probe/pipeline?params=${json}`);
    expect(JSON.parse(parseSse(await nested.body())[1]!.data!)).toMatchObject({ echo: { deep: [1, 2] } });
  });

  it('takes the last event id from Last-Event-ID, or from lastEventId in the query', async () => {
    const header = await rawGet(`${ctx.baseUrl}/demo/counter?count=5&intervalMs=0`, { 'last-event-id': '2' });
    expect(
      parseSse(await header.body())
        .filter((e) => e.id)
        .map((e) => e.id),
    ).toEqual(['3', '4']);
    const query = await rawGet(`${ctx.baseUrl}/demo/counter?count=5&intervalMs=0&lastEventId=3`);
    expect(
      parseSse(await query.body())
        .filter((e) => e.id)
        .map((e) => e.id),
    ).toEqual(['4']);
  });

  it('an error after the first event is an event: error with code and message', async () => {
    const res = await rawGet(`${ctx.baseUrl}/demo/fail?after=1`);
    expect(res.status).toBe(200);
    const events = parseSse(await res.body());
    expect(events.at(-1)).toEqual({ event: 'error', data: '{"code":"INTERNAL","message":"Internal server error"}' });
  });

  it('sends heartbeat comment lines at the configured interval', async () => {
    const res = await rawGet(`${ctx.baseUrl}/probe/hold`);
    await res.waitFor((t) => t.split('\n:\n').length >= 3, 2000);
    expect(parseSse(res.text).filter((e) => e.data)).toHaveLength(1);
    res.destroy();
    await within(ctx.probe.torndown.promise, 1000, 'teardown');
  });

  it('commits the head of a silent stream after the commit delay', async () => {
    const res = await within(rawGet(`${ctx.baseUrl}/probe/silent`), 2000, 'head');
    expect(res.status).toBe(200);
    await res.waitFor((t) => t.startsWith('retry: 2000\n\n'), 2000);
    res.destroy();
    await within(ctx.probe.torndown.promise, 1000, 'teardown');
  });

  it('tears the upstream down within 100 ms when the raw socket closes', async () => {
    const res = await rawGet(`${ctx.baseUrl}/probe/hold`);
    await res.waitFor((t) => t.includes('data:'));
    res.destroy();
    await within(ctx.probe.torndown.promise, 100, 'teardown');
    await until(() => ctx.tracker.size === 0, 1000, 'tracker empty');
  });
});

describe.each<HttpPlatform>(['express', 'fastify'])('SSE slow consumers (%s)', (platform) => {
  let ctx: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    ctx = await start(platform, { sse: { disconnectGraceMs: 3000 } });
  });
  afterAll(() => ctx.app.close());
  beforeEach(() => ctx.probe.reset());

  /** Opens a flood stream and stops reading right after the head; returns the server-side handle too. */
  async function pausedFlood(policy: string, events: number) {
    const added: StreamHandle[] = [];
    const add = ctx.tracker.add.bind(ctx.tracker);
    const spy = vi.spyOn(ctx.tracker, 'add').mockImplementation((h, info) => {
      added.push(h);
      add(h, info);
    });
    try {
      const res = await rawGet(`${ctx.baseUrl}/probe/flood-${policy}?events=${events}`);
      res.res.pause();
      await until(() => added.length === 1, 1000, 'subscribed');
      return { res, handle: added[0]! };
    } finally {
      spy.mockRestore();
    }
  }

  it('disconnect: a paused client is cut, the upstream stops, memory stays bounded', async () => {
    const total = 6000; // ~48 MiB if nothing stopped it
    const { res, handle } = await pausedFlood('disconnect', total);
    await within(ctx.probe.torndown.promise, 5000, 'slow consumer cut');
    expect(handle.closed).toBe(true);
    expect(handle.maxQueuedBytes).toBeLessThanOrEqual(FLOOD_QUEUE_BYTES);
    expect(ctx.probe.emitted).toBeLessThan(total);
    expect(ctx.tracker.size).toBe(0);
    // Reading again within the grace time: a gapless prefix, then the RESOURCE_EXHAUSTED error event.
    res.res.resume();
    const events = parseSse(await res.body(5000));
    const ids = events.filter((e) => e.id).map((e) => Number(e.id));
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(ids.map((_, i) => i));
    expect(events.at(-1)?.event).toBe('error');
    expect(JSON.parse(events.at(-1)!.data!)).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
  });

  it('disconnect: a client that stays paused past the grace time has its socket closed', async () => {
    const cut = await start(platform, { sse: { disconnectGraceMs: 50 } });
    try {
      const res = await rawGet(`${cut.baseUrl}/probe/flood-disconnect?events=6000`);
      res.res.pause();
      await within(cut.probe.torndown.promise, 5000, 'slow consumer cut');
      const server = cut.app.getHttpServer() as import('node:http').Server;
      const connections = () => new Promise<number>((r) => server.getConnections((_, n) => r(n)));
      // Closed by the server while the client never read a byte more.
      await until(async () => (await connections()) === 0, 2000, 'the slow connection closed by the server');
      res.res.resume();
      const body = await res.body(5000);
      expect(body).not.toContain('event: complete');
    } finally {
      await cut.app.close();
    }
  });

  it.each(['drop', 'latest'])('%s: the queue stays bounded while the client pauses, then it gets the newest events', async (policy) => {
    const total = 3000; // ~24 MiB
    const { res, handle } = await pausedFlood(policy, total);
    await until(() => ctx.probe.emitted === total, 10_000, 'all events emitted');
    expect(handle.closed).toBe(false);
    expect(handle.maxQueuedBytes).toBeLessThanOrEqual(FLOOD_QUEUE_BYTES);
    expect(handle.droppedEvents).toBeGreaterThan(0);
    res.res.resume();
    const body = await res.body(10_000);
    const events = parseSse(body);
    const ids = events.filter((e) => e.id).map((e) => Number(e.id));
    expect(ids.at(-1)).toBe(total - 1); // the newest event arrives
    expect(ids.length).toBeLessThan(total); // older ones were dropped
    expect(ids).toEqual([...ids].sort((a, b) => a - b)); // still in order
    expect(events.at(-1)).toEqual({ event: 'complete', data: '{}' });
  });
});

describe('SSE behind compression() (express)', () => {
  it('delivers each event at once, uncompressed, with the stream still open', async () => {
    const { app, baseUrl, probe } = await start('express', {}, (a) => a.use(compression()));
    try {
      const res = await rawGet(`${baseUrl}/probe/hold`, { 'accept-encoding': 'gzip, deflate, br' });
      await res.waitFor((t) => t.includes('data: {"held":true'), 2000);
      expect(res.res.headers['content-encoding']).toBeUndefined();
      expect(probe.active).toBe(1);
      res.destroy();
      await within(probe.torndown.promise, 1000, 'teardown');
    } finally {
      await app.close();
    }
  });
});

describe('SSE with a global prefix', () => {
  it.each<HttpPlatform>(['express', 'fastify'])('serves streams under the prefix (%s)', async (platform) => {
    const { app, baseUrl } = await start(platform, {}, (a) => a.setGlobalPrefix('api'));
    try {
      const res = await rawGet(`${baseUrl}/api/demo/counter?count=1&intervalMs=0`);
      expect(parseSse(await res.body()).find((e) => e.id)).toEqual({ id: '0', data: '{"n":0}' });
      const unknown = await rawGet(`${baseUrl}/api/demo/nope`, { accept: 'text/event-stream' });
      expect(unknown.status).toBe(404);
      expect(JSON.parse(await unknown.body())).toEqual({ code: 'NOT_FOUND', message: 'Unknown stream "demo/nope"' });
    } finally {
      await app.close();
    }
  });
});

describe.each<HttpPlatform>(['express', 'fastify'])('SSE routes next to the application routes (%s)', (platform) => {
  it('a stream is matched exactly as a @Get of the same controller: Nest orders both the same way', async () => {
    const { Controller, Get, Module, Param } = await import('@nestjs/common');
    const { NestFactory } = await import('@nestjs/core');
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    const { of } = await import('rxjs');
    const { LonglinkModule, Stream, tracked } = await import('../../lib/index.js');
    @Controller('items')
    class ItemsController {
      @Get(':id')
      one(@Param('id') id: string) {
        return { id };
      }

      @Stream('live')
      live() {
        return of(tracked('1', { live: true }));
      }

      @Get('plain')
      plain() {
        return { plain: true };
      }
    }
    @Module({ imports: [LonglinkModule.forRoot()], controllers: [ItemsController] })
    class ItemsModule {}
    for (const routeResolutionStrategy of ['declaration', 'specificity'] as const) {
      const options = { logger: false as const, forceCloseConnections: true, routeResolutionStrategy };
      const app =
        platform === 'fastify'
          ? await NestFactory.create(ItemsModule, new FastifyAdapter(), options)
          : await NestFactory.create(ItemsModule, options);
      await app.listen(0, '127.0.0.1');
      const baseUrl = `http://127.0.0.1:${((app.getHttpServer() as HttpServer).address() as { port: number }).port}`;
      try {
        const stream = await rawGet(`${baseUrl}/items/live`);
        const plain = await rawGet(`${baseUrl}/items/plain`);
        // Express in declaration order: ':id' (declared first) takes both, the stream like the @Get.
        // Fastify, or Nest's 'specificity' strategy: static paths win for both.
        const shadowed = platform === 'express' && routeResolutionStrategy === 'declaration';
        if (shadowed) {
          expect(JSON.parse(await stream.body())).toEqual({ id: 'live' });
          expect(JSON.parse(await plain.body())).toEqual({ id: 'plain' });
        } else {
          expect(parseSse(await stream.body())[1]).toEqual({ id: '1', data: '{"live":true}' });
          expect(JSON.parse(await plain.body())).toEqual({ plain: true });
        }
        const item = await rawGet(`${baseUrl}/items/42`);
        expect(JSON.parse(await item.body())).toEqual({ id: '42' });
      } finally {
        await app.close();
      }
    }
  });
});
