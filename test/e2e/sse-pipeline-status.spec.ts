import {
  BadRequestException,
  Controller,
  Injectable,
  Module,
  NotFoundException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type PipeTransform,
} from '@nestjs/common';
import { UnauthorizedException } from '@nestjs/common';
import { NEVER, of } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LonglinkModule, Stream, StreamParams, getStreamCall, tracked } from '../../lib/index.js';
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

/** A pipe that validates remotely: waits `delayMs`, then refuses `bad` values. */
class SlowPipe implements PipeTransform {
  async transform(value: Record<string, string>) {
    await new Promise((r) => setTimeout(r, Number(value.delayMs ?? 0)));
    if (value.bad) throw new BadRequestException('bad is not allowed');
    return value;
  }
}

@Controller('slow')
@UseGuards(SlowGuard)
class SlowController {
  @Stream()
  piped(@StreamParams(new SlowPipe()) _params: Record<string, string>) {
    return NEVER;
  }

  /** An async handler that decides after `wait` ms. */
  @Stream()
  async late(@StreamParams('wait') wait: string) {
    await new Promise((r) => setTimeout(r, Number(wait)));
    throw new NotFoundException('no such item');
  }

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

  it.each([100, 2000])(
    'a guard that refuses after %i ms yields 403 / 401 with the JSON body',
    async (delayMs) => {
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
    },
    15_000,
  );

  it.each([100, 2000])(
    'after a guard that accepts after %i ms: 200 for a silent stream, 204 for an empty one',
    async (delayMs) => {
      const silent = await rawGet(`${ctx.baseUrl}/slow/silent?delayMs=${delayMs}`);
      expect(silent.status).toBe(200);
      expect(await silent.waitFor((t) => t.includes('retry:'))).toBe('retry: 2000\n\n');
      silent.destroy();
      const empty = await rawGet(`${ctx.baseUrl}/slow/empty?delayMs=${delayMs}`);
      expect(empty.status).toBe(204);
      const one = await rawGet(`${ctx.baseUrl}/slow/one?delayMs=${delayMs}`);
      expect(parseSse(await one.body())).toEqual([{ retry: '2000' }, { id: '1', data: '{"ok":true}' }, { event: 'complete', data: '{}' }]);
    },
    15_000,
  );

  it('a pipe that refuses after 2 s → 400; an async handler that throws after 2 s → 404', async () => {
    const [piped, late] = await Promise.all([rawGet(`${ctx.baseUrl}/slow/piped?delayMs=2000&bad=1`), rawGet(`${ctx.baseUrl}/slow/late?wait=2000`)]);
    expect(piped.status).toBe(400);
    expect(JSON.parse(await piped.body())).toEqual({ code: 'BAD_REQUEST', message: 'bad is not allowed' });
    expect(late.status).toBe(404);
    expect(JSON.parse(await late.body())).toEqual({ code: 'NOT_FOUND', message: 'no such item' });
  }, 15_000);
});
