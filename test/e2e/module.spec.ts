import { Controller, Injectable, Module, type DynamicModule, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { LonglinkModule, Stream, StreamParams, getStreamCall, tracked } from '../../lib/index.js';
import { LONGLINK_MODULE_OPTIONS, LONGLINK_RESOLVED_OPTIONS } from '../../lib/longlink.tokens.js';
import type { ResolvedLonglinkOptions } from '../../lib/interfaces/longlink-options.interface.js';
import { StreamRegistry } from '../../lib/core/stream-registry.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { until, wsText } from '../harness/util.js';

@Controller('prices')
class PricesController {
  @Stream('ticker')
  ticker() {
    return of(tracked('1', { price: 1 }));
  }

  /** Name defaults to the method name. */
  @Stream()
  quotes(@StreamParams() _params: object) {
    return of(tracked('q', { quote: true }));
  }
}

@Controller('prices')
class OtherPricesController {
  @Stream('ticker')
  tick() {
    return of(1);
  }
}

async function bootFails(module: DynamicModule | Type): Promise<string> {
  try {
    const app = await NestFactory.create(module as never, { logger: false, abortOnError: false });
    await app.init();
    await app.close();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error('bootstrap did not fail');
}

function appWith(imports: unknown[], controllers: Type[] = [PricesController]): DynamicModule {
  @Module({})
  class TestModule {}
  return { module: TestModule, imports: imports as never, controllers: controllers as never };
}

describe('LonglinkModule', () => {
  it('serves @Stream() as <controller path>/<name>, the name defaulting to the method name', async () => {
    const { app, baseUrl } = await createHttpApp('express', appWith([LonglinkModule.forRoot()]));
    try {
      expect(
        app
          .get(StreamRegistry)
          .all()
          .map((d) => d.name),
      ).toEqual(['prices/ticker', 'prices/quotes']);
      const ticker = parseSse(await (await rawGet(`${baseUrl}/prices/ticker`)).body());
      expect(ticker[1]).toEqual({ id: '1', data: '{"price":1}' });
      const quotes = parseSse(await (await rawGet(`${baseUrl}/prices/quotes`)).body());
      expect(quotes[1]).toEqual({ id: 'q', data: '{"quote":true}' });
    } finally {
      await app.close();
    }
  });

  it.each([
    [{ sse: { heartbeatMs: -1 } }, 'sse.heartbeatMs'],
    [{ sse: { heartbeatMs: '15s' } }, 'sse.heartbeatMs'],
    [{ flowControl: { policy: 'drop-newest' } }, 'flowControl.policy'],
    [{ flowControl: { maxQueueBytes: 0 } }, 'flowControl.maxQueueBytes'],
    [{ sse: { heartbeat: 5 } }, 'unknown option "sse.heartbeat"'],
    [{ transport: 'sse' }, 'unknown option "transport"'],
    [{ ws: { path: 'ws' } }, 'ws.path'],
    [{ ws: { maxPayloadBytes: 10 } }, 'ws.maxPayloadBytes'],
    [{ ws: { allowedOrigins: 'http://a.example' } }, 'ws.allowedOrigins'],
    [{ ws: { connectionGuard: 42 } }, 'ws.connectionGuard'],
    [{ ws: { heartbeat: 1 } }, 'unknown option "ws.heartbeat"'],
    [{ grpc: { url: 'nowhere' } }, 'grpc.url'],
    [{ grpc: { protoPath: 'x.proto' } }, 'grpc.package'],
    [{ grpc: { keepalive: 5 } }, 'grpc.keepalive'],
    [{ grpc: { port: 1 } }, 'unknown option "grpc.port"'],
  ])('refuses invalid options %j at startup, naming %s', async (options, name) => {
    const message = await bootFails(appWith([LonglinkModule.forRoot(options as never)]));
    expect(message).toContain('LonglinkModule');
    expect(message).toContain(name);
  });

  it('refuses invalid per-stream flow control at startup', async () => {
    @Controller('bad')
    class BadController {
      @Stream('x', { flowControl: { policy: 'nope' as never } })
      x() {
        return of(1);
      }
    }
    const message = await bootFails(appWith([LonglinkModule.forRoot()], [BadController]));
    expect(message).toContain('@Stream("bad/x").flowControl.policy');
  });

  it('fails bootstrap on duplicate stream names, naming both locations', async () => {
    const message = await bootFails(appWith([LonglinkModule.forRoot()], [PricesController, OtherPricesController]));
    expect(message).toContain('duplicate stream name "prices/ticker"');
    expect(message).toContain('PricesController.ticker');
    expect(message).toContain('OtherPricesController.tick');
  });

  it('fails bootstrap when a stream handler uses HTTP parameter decorators', async () => {
    const { Query } = await import('@nestjs/common');
    @Controller('q')
    class QueryController {
      @Stream('x')
      x(@Query('a') a: string) {
        return of(a);
      }
    }
    const message = await bootFails(appWith([LonglinkModule.forRoot()], [QueryController]));
    expect(message).toContain('QueryController.x');
    expect(message).toContain('@StreamParams()');
  });

  it('forRootAsync() takes options from a factory with injected dependencies', async () => {
    @Injectable()
    class Config {
      readonly retryMs = 1234;
    }
    @Module({ providers: [Config], exports: [Config] })
    class ConfigModule {}
    const { app, baseUrl } = await createHttpApp(
      'fastify',
      appWith([
        LonglinkModule.forRootAsync({
          imports: [ConfigModule],
          inject: [Config],
          useFactory: async (config: Config) => ({ sse: { retryMs: config.retryMs } }),
        }),
      ]),
    );
    try {
      expect(app.get<ResolvedLonglinkOptions>(LONGLINK_RESOLVED_OPTIONS).sse.retryMs).toBe(1234);
      // The raw options' token is the string Nest derives from the module name, injectable by it.
      expect(app.get('LONGLINK_MODULE_OPTIONS')).toBe(app.get(LONGLINK_MODULE_OPTIONS));
      expect(app.get(LONGLINK_MODULE_OPTIONS)).toEqual({ sse: { retryMs: 1234 } });
      const body = await (await rawGet(`${baseUrl}/prices/ticker`)).body();
      expect(body.startsWith('retry: 1234\n\n')).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('isGlobal makes its exports available to every module', async () => {
    @Injectable()
    class NeedsRegistry {
      constructor(readonly registry: StreamRegistry) {}
    }
    @Module({ providers: [NeedsRegistry], controllers: [PricesController] })
    class FeatureModule {}
    const { app } = await createHttpApp('express', appWith([LonglinkModule.forRoot({ isGlobal: true }), FeatureModule], []));
    try {
      expect(app.get(NeedsRegistry).registry.get('prices/ticker')?.location).toBe('PricesController.ticker');
    } finally {
      await app.close();
    }
    const message = await bootFails(appWith([LonglinkModule.forRoot(), FeatureModule], []));
    expect(message).toContain('StreamRegistry');
  });

  it('options.transports limits where a stream is served', async () => {
    const WebSocket = (await import('ws')).default;
    @Controller('only')
    class OnlyController {
      @Stream('ws', { transports: ['ws'] })
      ws() {
        return of(tracked('1', { on: 'ws' }));
      }

      @Stream('sse', { transports: ['sse'] })
      sse() {
        return of(tracked('1', { on: 'sse' }));
      }
    }
    const { app, baseUrl } = await createHttpApp('express', appWith([LonglinkModule.forRoot({ ws: true })], [OnlyController]));
    try {
      const notServed = await rawGet(`${baseUrl}/only/ws`);
      expect(notServed.status).toBe(404);
      await notServed.body();
      expect(parseSse(await (await rawGet(`${baseUrl}/only/sse`)).body())[1]?.data).toBe('{"on":"sse"}');
      const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`);
      const messages: { id?: string; type: string; error?: { code: string } }[] = [];
      await new Promise((resolve) => ws.once('open', resolve));
      ws.on('message', (m) => messages.push(JSON.parse(wsText(m)) as (typeof messages)[number]));
      ws.send(JSON.stringify({ type: 'subscribe', id: 'a', stream: 'only/ws' }));
      ws.send(JSON.stringify({ type: 'subscribe', id: 'b', stream: 'only/sse' }));
      await until(() => messages.filter((m) => m.type !== 'next').length === 2, 2000, 'both answered');
      expect(messages.find((m) => m.id === 'a' && m.type === 'complete')).toBeDefined();
      expect(messages.find((m) => m.id === 'b')?.error?.code).toBe('NOT_FOUND');
      ws.close();
    } finally {
      await app.close();
    }
  });

  it('refuses unknown transports in options.transports at startup', async () => {
    @Controller('t')
    class BadTransport {
      @Stream('x', { transports: ['carrier-pigeon' as never] })
      x() {
        return of(1);
      }
    }
    expect(await bootFails(appWith([LonglinkModule.forRoot()], [BadTransport]))).toContain('carrier-pigeon');
  });

  it('can turn SSE off', async () => {
    const { app, baseUrl } = await createHttpApp('express', appWith([LonglinkModule.forRoot({ sse: { enabled: false } })]));
    try {
      const res = await rawGet(`${baseUrl}/prices/ticker`);
      expect(res.status).toBe(404);
      await res.body();
    } finally {
      await app.close();
    }
  });
});

describe('global enhancers registered on the app', () => {
  it('useGlobalGuards / Interceptors / Pipes / Filters apply to streams; a crashing HTTP-only filter does not mask the error', async () => {
    const { Catch, ForbiddenException } = await import('@nestjs/common');
    const { map } = await import('rxjs');
    const seen: string[] = [];
    @Catch()
    class HttpOnlyFilter {
      catch(_error: unknown, host: import('@nestjs/common').ArgumentsHost) {
        seen.push('filter');
        // Written for HTTP: there is no response object on a stream call.
        host.switchToHttp().getResponse<{ status(n: number): unknown }>().status(500);
      }
    }
    const { app, baseUrl } = await createHttpApp('express', appWith([LonglinkModule.forRoot()]), (a) => {
      a.useGlobalGuards({
        canActivate: (ctx) => {
          seen.push('guard');
          if (getStreamCall(ctx)?.headers['x-deny']) throw new ForbiddenException('denied by global guard');
          return true;
        },
      });
      a.useGlobalInterceptors({
        intercept: (_ctx, next) => next.handle().pipe(map((e) => tracked('g', { wrapped: (e as { data: unknown }).data }))),
      });
      a.useGlobalPipes({
        transform: (value: unknown) => {
          seen.push('pipe');
          return value;
        },
      });
      a.useGlobalFilters(new HttpOnlyFilter());
    });
    try {
      const ok = parseSse(await (await rawGet(`${baseUrl}/prices/ticker`)).body());
      expect(ok[1]).toEqual({ id: 'g', data: '{"wrapped":{"price":1}}' });
      const denied = await rawGet(`${baseUrl}/prices/ticker`, { 'x-deny': '1' });
      expect(denied.status).toBe(403);
      expect(JSON.parse(await denied.body())).toEqual({ code: 'PERMISSION_DENIED', message: 'denied by global guard' });
      await (await rawGet(`${baseUrl}/prices/quotes`)).body();
      expect(seen).toEqual(['guard', 'guard', 'filter', 'guard', 'pipe']);
    } finally {
      await app.close();
    }
  });
});
