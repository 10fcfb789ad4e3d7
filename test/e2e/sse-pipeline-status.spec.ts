import { Controller, Injectable, Module, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { UnauthorizedException } from '@nestjs/common';
import { NEVER, of } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LonglinkModule, Stream, getStreamCall, tracked } from '../../lib/index.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { createHttpApp, type HttpPlatform } from '../harness/sse.harness.js';

/** A remote-check-like guard: waits `delayMs` (query), then refuses when `deny` is set. */
@Injectable()
class SlowGuard implements CanActivate {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const call = getStreamCall(context)!;
    await new Promise((r) => setTimeout(r, Number(call.params.delayMs ?? 0)));
    if (call.params.deny === 'unauth') throw new UnauthorizedException('token rejected by the remote check');
    return call.params.deny !== 'forbid';
  }
}

@Controller('slow')
@UseGuards(SlowGuard)
class SlowController {
  @Stream()
  silent() {
    return NEVER;
  }

  @Stream()
  empty() {
    return of();
  }

  @Stream()
  one() {
    return of(tracked('1', { ok: true }));
  }
}

@Module({ imports: [LonglinkModule.forRoot({ sse: { heartbeatMs: 0 } })], controllers: [SlowController], providers: [SlowGuard] })
class SlowModule {}

describe.each<HttpPlatform>(['express', 'fastify'])('SSE status decided by the pipeline (%s)', (platform) => {
  let ctx: Awaited<ReturnType<typeof createHttpApp>>;
  beforeAll(async () => {
    ctx = await createHttpApp(platform, SlowModule);
  });
  afterAll(() => ctx.app.close());

  it.each([100, 2000])('a guard that refuses after %i ms yields 403 / 401 with the JSON body', async (delayMs) => {
    const started = Date.now();
    const [forbid, unauth] = await Promise.all([
      rawGet(`${ctx.baseUrl}/slow/silent?delayMs=${delayMs}&deny=forbid`),
      rawGet(`${ctx.baseUrl}/slow/silent?delayMs=${delayMs}&deny=unauth`),
    ]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(delayMs - 5);
    expect(forbid.status).toBe(403);
    expect(forbid.res.headers['content-type']).toContain('application/json');
    expect(JSON.parse(await forbid.body())).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(unauth.status).toBe(401);
    expect(JSON.parse(await unauth.body())).toEqual({ code: 'UNAUTHENTICATED', message: 'token rejected by the remote check' });
  }, 15_000);

  it.each([100, 2000])('after a guard that accepts after %i ms: 200 for a silent stream, 204 for an empty one', async (delayMs) => {
    const silent = await rawGet(`${ctx.baseUrl}/slow/silent?delayMs=${delayMs}`);
    expect(silent.status).toBe(200);
    expect(await silent.waitFor((t) => t.includes('retry:'))).toBe('retry: 2000\n\n');
    silent.destroy();
    const empty = await rawGet(`${ctx.baseUrl}/slow/empty?delayMs=${delayMs}`);
    expect(empty.status).toBe(204);
    const one = await rawGet(`${ctx.baseUrl}/slow/one?delayMs=${delayMs}`);
    expect(parseSse(await one.body())).toEqual([{ retry: '2000' }, { id: '1', data: '{"ok":true}' }, { event: 'complete', data: '{}' }]);
  }, 15_000);
});
