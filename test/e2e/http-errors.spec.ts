import { Catch, Controller, Get, HttpException, Module, type ArgumentsHost, type ExceptionFilter, type INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LonglinkModule, Stream, StreamErrorCode, StreamException } from '../../lib/index.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { throwError } from 'rxjs';

@Controller('plain')
class PlainController {
  @Get('unavailable')
  unavailable() {
    throw new StreamException(StreamErrorCode.UNAVAILABLE, 'The hub is not reachable right now');
  }

  @Get('hinted')
  async hinted() {
    throw new StreamException(StreamErrorCode.UNAVAILABLE, 'later', { retryAfterMs: 2500 });
  }

  @Get('not-found')
  notFound() {
    throw new StreamException(StreamErrorCode.NOT_FOUND, 'no such room', { room: 'x' });
  }

  @Get('exhausted')
  exhausted() {
    throw new StreamException(StreamErrorCode.RESOURCE_EXHAUSTED, 'slow down');
  }

  @Get('bug')
  bug() {
    throw new Error('db password is hunter2');
  }

  @Get('http')
  http() {
    throw new HttpException('teapot', 418);
  }

  @Stream('refused')
  refused() {
    return throwError(() => new StreamException(StreamErrorCode.PERMISSION_DENIED, 'not yours'));
  }
}

@Module({ imports: [LonglinkModule.forRoot()], controllers: [PlainController] })
class HttpErrorsModule {}

@Catch()
class CatchAll implements ExceptionFilter {
  catch(_: unknown, host: ArgumentsHost) {
    const response = host
      .switchToHttp()
      .getResponse<{ status?: (n: number) => { send: (b: string) => void }; code?: (n: number) => { send: (b: string) => void } }>();
    (response.status ?? response.code)!.call(response, 299).send('mine');
  }
}

async function get(baseUrl: string, path: string) {
  const response = await fetch(`${baseUrl}${path}`);
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() };
}

describe.each(['express', 'fastify'] as const)('a StreamException reaching an HTTP route (%s)', (platform) => {
  let app: INestApplication;
  let baseUrl: string;
  beforeAll(async () => {
    ({ app, baseUrl } = await createHttpApp(platform, HttpErrorsModule));
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers the status of the table, Retry-After where it helps, and { code, message, details }', async () => {
    expect(await get(baseUrl, '/plain/unavailable')).toEqual({
      status: 503,
      retryAfter: '1',
      body: JSON.stringify({ code: 'UNAVAILABLE', message: 'The hub is not reachable right now' }),
    });
    const hinted = await get(baseUrl, '/plain/hinted');
    expect([hinted.status, hinted.retryAfter]).toEqual([503, '3']);
    expect(JSON.parse(hinted.body)).toEqual({ code: 'UNAVAILABLE', message: 'later', details: { retryAfterMs: 2500 } });
    const notFound = await get(baseUrl, '/plain/not-found');
    expect([notFound.status, notFound.retryAfter]).toEqual([404, null]);
    expect(JSON.parse(notFound.body)).toEqual({ code: 'NOT_FOUND', message: 'no such room', details: { room: 'x' } });
    expect((await get(baseUrl, '/plain/exhausted')).status).toBe(429);
  });

  it('leaves every other exception as Nest answers it', async () => {
    const bug = await get(baseUrl, '/plain/bug');
    expect(bug.status).toBe(500);
    expect(JSON.parse(bug.body)).toEqual({ statusCode: 500, message: 'Internal server error' });
    const http = await get(baseUrl, '/plain/http');
    expect(http.status).toBe(418);
    expect(JSON.parse(http.body)).toEqual({ statusCode: 418, message: 'teapot' });
  });

  it('streams still answer their own errors', async () => {
    const refused = await get(baseUrl, '/plain/refused');
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'PERMISSION_DENIED', message: 'not yours' });
  });
});

describe("an application's own global filter still wins", () => {
  it.each(['express', 'fastify'] as const)('%s', async (platform) => {
    const { app, baseUrl } = await createHttpApp(platform, HttpErrorsModule, (a) => a.useGlobalFilters(new CatchAll()));
    try {
      expect(await get(baseUrl, '/plain/unavailable')).toMatchObject({ status: 299, body: 'mine' });
    } finally {
      await app.close();
    }
  });
});
