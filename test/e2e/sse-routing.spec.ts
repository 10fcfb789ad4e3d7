import type { Server as HttpServer } from 'node:http';
import {
  Controller,
  Get,
  Injectable,
  Module,
  RequestMethod,
  Version,
  VersioningType,
  type MiddlewareConsumer,
  type NestMiddleware,
  type NestModule,
  type VersioningOptions,
} from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LonglinkModule, Stream, tracked } from '../../lib/index.js';
import { StreamRegistry } from '../../lib/core/stream-registry.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { createHttpApp, type HttpPlatform } from '../harness/sse.harness.js';
import { within, wsText } from '../harness/util.js';

/** Paths the middleware saw, by binding. */
const seen: string[] = [];

@Injectable()
class TagMiddleware implements NestMiddleware {
  use(req: { url?: string; originalUrl?: string }, _res: unknown, next: () => void): void {
    seen.push(`${(req.originalUrl ?? req.url ?? '').split('?')[0]}`);
    next();
  }
}

const one = (tag: string) => of(tracked('1', { tag }));

@Controller({ path: 'v', version: '2' })
class VersionedController {
  @Get('plain')
  plain() {
    return { plain: 2 };
  }

  @Stream()
  ticks() {
    return one('v2 ticks');
  }

  @Version('3')
  @Stream('later')
  later() {
    return one('v3 later');
  }
}

@Controller('two')
class TwoVersionsController {
  @Version('1')
  @Stream('ticks')
  ticksV1() {
    return one('one');
  }

  @Version('2')
  @Stream('ticks')
  ticksV2() {
    return one('two');
  }
}

@Controller('feed')
class FeedController {
  @Get('plain')
  plain() {
    return { feed: true };
  }

  @Stream()
  ticks() {
    return one('feed');
  }

  @Stream()
  excluded() {
    return one('excluded');
  }
}

@Module({ controllers: [FeedController] })
class AdminModule {}

@Module({
  imports: [LonglinkModule.forRoot({ ws: true }), AdminModule, RouterModule.register([{ path: 'admin', module: AdminModule }])],
  controllers: [VersionedController, TwoVersionsController],
  providers: [TagMiddleware],
})
class RoutingModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(TagMiddleware).forRoutes(FeedController);
    consumer.apply(TagMiddleware).forRoutes({ path: 'v/ticks', method: RequestMethod.GET, version: '2' });
  }
}

async function start(platform: HttpPlatform, versioning: VersioningOptions) {
  return createHttpApp(platform, RoutingModule, (app) => {
    app.setGlobalPrefix('api', { exclude: [{ path: 'admin/feed/excluded', method: RequestMethod.GET }] });
    app.enableVersioning(versioning);
  });
}

async function events(url: string, headers: Record<string, string> = {}) {
  const res = await rawGet(url, headers);
  return { status: res.status, body: await res.body(), events: () => parseSse(res.text) };
}

describe.each<HttpPlatform>(['express', 'fastify'])('SSE routes are Nest routes (%s)', (platform) => {
  it('URI versioning, global prefix with exclude, RouterModule, middleware by controller and by path', async () => {
    const { app, baseUrl } = await start(platform, { type: VersioningType.URI });
    seen.length = 0;
    try {
      // Controller version, exactly where its @Get('plain') is.
      expect(JSON.parse((await events(`${baseUrl}/api/v2/v/plain`)).body)).toEqual({ plain: 2 });
      expect(parseSse((await events(`${baseUrl}/api/v2/v/ticks`)).body)[1]).toEqual({ id: '1', data: '{"tag":"v2 ticks"}' });
      expect((await events(`${baseUrl}/api/v/ticks`)).status).toBe(404);
      // Method version.
      expect(parseSse((await events(`${baseUrl}/api/v3/v/later`)).body)[1]).toEqual({ id: '1', data: '{"tag":"v3 later"}' });
      // Two versions of one stream.
      expect(parseSse((await events(`${baseUrl}/api/v1/two/ticks`)).body)[1]?.data).toBe('{"tag":"one"}');
      expect(parseSse((await events(`${baseUrl}/api/v2/two/ticks`)).body)[1]?.data).toBe('{"tag":"two"}');
      // RouterModule path, and the prefix's exclude.
      expect(parseSse((await events(`${baseUrl}/api/admin/feed/ticks`)).body)[1]?.data).toBe('{"tag":"feed"}');
      expect((await events(`${baseUrl}/api/feed/ticks`)).status).toBe(404);
      expect(parseSse((await events(`${baseUrl}/admin/feed/excluded`)).body)[1]?.data).toBe('{"tag":"excluded"}');
      expect((await events(`${baseUrl}/api/admin/feed/excluded`, { accept: 'text/event-stream' })).status).toBe(404);
      // Middleware bound to the controller and to a path ran for the streams as for the @Get.
      await events(`${baseUrl}/api/admin/feed/plain`);
      expect(seen).toEqual(expect.arrayContaining(['/api/v2/v/ticks', '/api/admin/feed/ticks', '/admin/feed/excluded', '/api/admin/feed/plain']));
      expect(seen).not.toContain('/api/v3/v/later');
      // Unknown names under a versioned controller path: 404 with the stream name.
      const unknown = await events(`${baseUrl}/api/v2/v/nope`, { accept: 'text/event-stream' });
      expect(unknown.status).toBe(404);
      expect(JSON.parse(unknown.body)).toEqual({ code: 'NOT_FOUND', message: 'Unknown stream "v2/v/nope"' });
      // A percent-encoded path of a stream that exists: served (Fastify decodes before routing), or a 404 that says why.
      const encoded = await events(`${baseUrl}/api/v2/v/%74icks`, { accept: 'text/event-stream' });
      if (platform === 'fastify') {
        expect(parseSse(encoded.body)[1]).toEqual({ id: '1', data: '{"tag":"v2 ticks"}' });
      } else {
        expect([encoded.status, JSON.parse(encoded.body)]).toEqual([
          404,
          { code: 'NOT_FOUND', message: 'Stream "v2/v/ticks" is served at its path without percent-encoding' },
        ]);
      }
      // Names for WS/gRPC: controller path + name, with a version segment; RouterModule and prefix are not part of them.
      expect(
        app
          .get(StreamRegistry)
          .all()
          .map((d) => d.name)
          .sort(),
      ).toEqual(['feed/excluded', 'feed/ticks', 'v1/two/ticks', 'v2/two/ticks', 'v2/v/ticks', 'v3/v/later'].sort());
      // A WebSocket client picks a version by name.
      const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`);
      const got: unknown[] = [];
      const done = new Promise<void>((resolve, reject) => {
        ws.on('error', reject);
        ws.on('message', (m) => {
          const msg = JSON.parse(wsText(m)) as { type: string; id: string; data?: unknown };
          if (msg.type === 'next') got.push([msg.id, msg.data]);
          if (got.length === 2) resolve();
        });
      });
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ type: 'subscribe', id: 'a', stream: 'v1/two/ticks' }));
      ws.send(JSON.stringify({ type: 'subscribe', id: 'b', stream: 'v2/two/ticks' }));
      await within(done, 5000, 'ws events');
      ws.close();
      expect(got.sort()).toEqual([
        ['a', { tag: 'one' }],
        ['b', { tag: 'two' }],
      ]);
    } finally {
      await app.close();
    }
  });

  it.each<[string, VersioningOptions, (v: string) => Record<string, string>]>([
    ['header', { type: VersioningType.HEADER, header: 'x-api-version' }, (v) => ({ 'x-api-version': v })],
    ['media type', { type: VersioningType.MEDIA_TYPE, key: 'v=' }, (v) => ({ accept: `text/event-stream;v=${v}` })],
  ])('%s versioning picks the stream version like a @Get', async (_label, versioning, header) => {
    const { app, baseUrl } = await start(platform, versioning);
    try {
      expect(parseSse((await events(`${baseUrl}/api/two/ticks`, header('1'))).body)[1]?.data).toBe('{"tag":"one"}');
      expect(parseSse((await events(`${baseUrl}/api/two/ticks`, header('2'))).body)[1]?.data).toBe('{"tag":"two"}');
      expect(parseSse((await events(`${baseUrl}/api/v/ticks`, header('2'))).body)[1]?.data).toBe('{"tag":"v2 ticks"}');
      expect((await events(`${baseUrl}/api/v/ticks`, header('9'))).status).toBe(404);
    } finally {
      await app.close();
    }
  });
});

describe('streams that cannot be routed fail bootstrap naming the stream', () => {
  it('a host-bound controller', async () => {
    @Controller({ path: 'hosted', host: 'admin.example.com' })
    class HostedController {
      @Stream()
      live() {
        return one('x');
      }
    }
    @Module({ imports: [LonglinkModule.forRoot()], controllers: [HostedController] })
    class HostedModule {}
    await expect(createHttpApp('express', HostedModule)).rejects.toThrow(/stream "hosted\/live" \(HostedController\.live\).*host/);
  });
});

describe.each<HttpPlatform>(['express', 'fastify'])('apps made with @nestjs/testing (%s)', (platform) => {
  it('serves streams as routes when the HTTP adapter is created after the module (Test.createTestingModule)', async () => {
    const { Test } = await import('@nestjs/testing');
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    const moduleRef = await Test.createTestingModule({ imports: [RoutingModule] }).compile();
    const app =
      platform === 'fastify'
        ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
        : moduleRef.createNestApplication({ logger: false });
    app.setGlobalPrefix('api');
    app.enableVersioning({ type: VersioningType.URI });
    await app.listen(0, '127.0.0.1');
    try {
      const baseUrl = `http://127.0.0.1:${((app.getHttpServer() as HttpServer).address() as { port: number }).port}`;
      expect(parseSse((await events(`${baseUrl}/api/admin/feed/ticks`)).body)[1]?.data).toBe('{"tag":"feed"}');
      expect(parseSse((await events(`${baseUrl}/api/v2/two/ticks`)).body)[1]?.data).toBe('{"tag":"two"}');
    } finally {
      await app.close();
    }
  });
});
