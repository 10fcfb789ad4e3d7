import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Module, VersioningType, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { of } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { LonglinkModule, Stream } from '../../lib/index.js';

/** A controller whose only stream is a POST stream. */
@Controller('only-post')
class OnlyPostController {
  @Stream('reply', { sse: { method: 'POST' } })
  reply() {
    return of({ ok: true });
  }
}

@Controller({ path: 'versioned-post', version: '2' })
class VersionedPostController {
  @Stream('reply', { sse: { method: 'POST' } })
  reply() {
    return of({ ok: true });
  }
}

@Module({ imports: [LonglinkModule.forRoot({})], controllers: [OnlyPostController, VersionedPostController] })
class PostOnlyModule {}

/** PROTOCOL.md §3.9: a GET to a POST stream is the NOT_FOUND JSON of §3.2, saying why, whatever routes it. */
describe.each(['express', 'fastify'] as const)('GET on a POST stream (%s)', (platform) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it.each([
    { prefix: '', versioning: false, path: '/only-post/reply', name: 'only-post/reply' },
    { prefix: 'api', versioning: false, path: '/api/only-post/reply', name: 'only-post/reply' },
    { prefix: 'api', versioning: true, path: '/api/v2/versioned-post/reply', name: 'v2/versioned-post/reply' },
  ])('prefix "$prefix", versioning $versioning: $path → 404 NOT_FOUND naming a POST stream', async ({ prefix, versioning, path, name }) => {
    app =
      platform === 'express'
        ? await NestFactory.create(PostOnlyModule, { logger: false, forceCloseConnections: true })
        : await NestFactory.create(PostOnlyModule, new FastifyAdapter(), { logger: false, forceCloseConnections: true });
    if (prefix) app.setGlobalPrefix(prefix);
    if (versioning) app.enableVersioning({ type: VersioningType.URI });
    await app.listen(0, '127.0.0.1');
    const { port } = (app.getHttpServer() as HttpServer).address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { accept: 'text/event-stream' } });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      code: 'NOT_FOUND',
      message: `Stream "${name}" is a POST stream: request it with POST and a JSON body`,
    });
    // The stream itself is served with POST.
    const ok = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('"ok":true');
  });
});
