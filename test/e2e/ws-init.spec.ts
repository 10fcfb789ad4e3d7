import { setTimeout as sleep } from 'node:timers/promises';
import {
  Controller,
  Injectable,
  Module,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { of, type Observable } from 'rxjs';
import { LonglinkModule, Stream, StreamContext, getStreamCall, tracked, type StreamCall, type StreamEvent, type WsOptions } from '../../lib/index.js';
import { resolveLonglinkOptions } from '../../lib/core/longlink-options.js';
import { createHttpApp, type HttpPlatform } from '../harness/sse.harness.js';
import { deferred, within, wsText } from '../harness/util.js';
import { openWs } from '../harness/ws.harness.js';

/** Connection guard that reads the init payload: `{ token: 'good' }` passes, `'bad'` is 403, none 401. Takes 100 ms. */
@Injectable()
class InitTokenGuard implements CanActivate {
  static calls = 0;
  async canActivate(context: ExecutionContext): Promise<boolean> {
    InitTokenGuard.calls++;
    await sleep(100);
    const params = getStreamCall(context)?.connectionParams as { token?: string } | undefined;
    if (params?.token === undefined) throw new UnauthorizedException('init token required');
    return params.token === 'good';
  }
}

/** A stream guard that also reads `call.connectionParams`. */
@Injectable()
class StreamTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const params = getStreamCall(context)?.connectionParams as { token?: string } | undefined;
    if (params?.token !== 'good') throw new UnauthorizedException('stream token required');
    return true;
  }
}

@Controller('init')
class InitController {
  @Stream('whoami')
  whoami(@StreamContext() call: StreamCall): Observable<StreamEvent<unknown>> {
    return of(tracked('1', { connectionParams: call.connectionParams ?? null }));
  }

  @Stream('guarded')
  @UseGuards(StreamTokenGuard)
  guarded(): Observable<StreamEvent<unknown>> {
    return of(tracked('1', { ok: true }));
  }
}

function initModule(ws: WsOptions) {
  @Module({
    imports: [LonglinkModule.forRoot({ ws: { path: '/ws', ...ws } })],
    controllers: [InitController],
    providers: [InitTokenGuard, StreamTokenGuard],
  })
  class InitModule {}
  return InitModule;
}

type Message = { type: string; id?: string; data?: unknown; error?: { code: string; message: string } };

class Client {
  readonly messages: Message[] = [];
  readonly closed = deferred<{ code: number; reason: string }>();
  private waiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      this.messages.push(JSON.parse(wsText(raw)) as Message);
      for (const w of [...this.waiters]) w();
    });
    ws.on('close', (code, reason) => this.closed.resolve({ code, reason: String(reason) }));
    ws.on('error', () => undefined);
  }
  send(m: unknown): void {
    this.ws.send(JSON.stringify(m));
  }
  waitFor(check: (ms: Message[]) => boolean, ms = 5000): Promise<void> {
    if (check(this.messages)) return Promise.resolve();
    return within(
      new Promise<void>((resolve) => {
        const w = () => check(this.messages) && (this.waiters.splice(this.waiters.indexOf(w), 1), resolve());
        this.waiters.push(w);
      }),
      ms,
      `waitFor; got ${JSON.stringify(this.messages)}`,
    );
  }
}

let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

let platform: HttpPlatform = 'express';

async function start(ws: WsOptions): Promise<string> {
  const started = await createHttpApp(platform, initModule(ws));
  app = started.app;
  return `${started.baseUrl.replace('http', 'ws')}/ws`;
}

describe.each(['express', 'fastify'] as const)('WebSocket init message (%s)', (name) => {
  beforeAll(() => {
    platform = name;
  });

  it('is optional by default: acknowledged, its payload reaches every stream guard as call.connectionParams', async () => {
    const url = await start({});
    const c = new Client(await openWs(url));
    c.send({ type: 'init', payload: { token: 'good' } });
    c.send({ type: 'subscribe', id: 'a', stream: 'init/whoami' });
    c.send({ type: 'subscribe', id: 'b', stream: 'init/guarded' });
    await c.waitFor((ms) => ms.filter((m) => m.type === 'complete').length === 2);
    expect(c.messages[0]).toEqual({ type: 'init_ack' });
    expect(c.messages.find((m) => m.id === 'a' && m.type === 'next')?.data).toEqual({ connectionParams: { token: 'good' } });
    expect(c.messages.find((m) => m.id === 'b' && m.type === 'next')?.data).toEqual({ ok: true });
    // Without init: connectionParams is undefined, so the stream guard refuses.
    const d = new Client(await openWs(url));
    d.send({ type: 'subscribe', id: 'b', stream: 'init/guarded' });
    await d.waitFor((ms) => ms.some((m) => m.type === 'error'));
    expect(d.messages[0]).toMatchObject({ type: 'error', id: 'b', error: { code: 'UNAUTHENTICATED' } });
    // init after a subscribe, or twice: BAD_REQUEST, the connection stays.
    d.send({ type: 'init', payload: {} });
    await d.waitFor((ms) => ms.length === 2);
    expect(d.messages[1]).toMatchObject({ type: 'error', error: { code: 'BAD_REQUEST' } });
    expect(d.messages[1]!.id).toBeUndefined();
    c.send({ type: 'init', payload: {} });
    await c.waitFor((ms) => ms.some((m) => m.type === 'error' && m.id === undefined));
    // A payload that is not an object is refused.
    const e = new Client(await openWs(url));
    e.send({ type: 'init', payload: [1] });
    await e.waitFor((ms) => ms.length === 1);
    expect(e.messages[0]).toMatchObject({ type: 'error', error: { code: 'BAD_REQUEST', message: '"payload" must be a JSON object' } });
    for (const x of [c, d, e]) x.ws.close();
  });

  it('required: no init within the timeout closes with 4408', async () => {
    const url = await start({ requireInit: true, initTimeoutMs: 150 });
    const c = new Client(await openWs(url));
    c.send({ type: 'subscribe', id: 'a', stream: 'init/whoami' }); // waits, never answered
    const closed = await within(c.closed.promise, 3000, '4408');
    expect(closed.code).toBe(4408);
    expect(c.messages).toEqual([]);
    // With init in time, the connection lives past the timeout.
    const d = new Client(await openWs(url));
    d.send({ type: 'init' });
    await d.waitFor((ms) => ms.some((m) => m.type === 'init_ack'));
    await sleep(300);
    expect(d.ws.readyState).toBe(WebSocket.OPEN);
    d.ws.close();
  });

  it('connection guard after init: subscribes sent before the ack wait for it; refusal closes 4401/4403', async () => {
    const url = await start({ connectionGuard: InitTokenGuard, connectionGuardAt: 'init', initTimeoutMs: 5000 });
    // No header: the upgrade itself is not guarded any more.
    const c = new Client(await openWs(url));
    c.send({ type: 'subscribe', id: 'early', stream: 'init/whoami' }); // before init
    c.send({ type: 'init', payload: { token: 'good' } });
    c.send({ type: 'subscribe', id: 'late', stream: 'init/guarded' }); // while the guard (100 ms) runs
    c.send({ type: 'subscribe', id: 'late', stream: 7 }); // malformed, with the id of a waiting one
    c.send({ type: 'ping' });
    await c.waitFor((ms) => ms.filter((m) => m.type === 'complete').length === 2);
    const malformed = c.messages.filter((m) => m.type === 'error');
    expect(malformed).toEqual([
      { type: 'error', error: { code: 'BAD_REQUEST', message: '"stream" must be a string of 1 to 512 characters', details: { id: 'late' } } },
    ]);
    c.messages.splice(c.messages.indexOf(malformed[0]!), 1);
    const types = c.messages.map((m) => `${m.type}${m.id ? `:${m.id}` : ''}`);
    // The ping is answered at once; the subscribes only after init_ack, in order.
    expect(types.indexOf('pong')).toBeLessThan(types.indexOf('init_ack'));
    expect(types.slice(types.indexOf('init_ack')).sort()).toEqual(['complete:early', 'complete:late', 'init_ack', 'next:early', 'next:late']);
    expect(types.indexOf('init_ack')).toBe(types.length - 5);
    expect(c.messages.find((m) => m.id === 'early' && m.type === 'next')?.data).toEqual({ connectionParams: { token: 'good' } });
    c.ws.close();

    const bad = new Client(await openWs(url));
    bad.send({ type: 'init', payload: { token: 'bad' } });
    bad.send({ type: 'subscribe', id: 'x', stream: 'init/whoami' });
    expect((await within(bad.closed.promise, 3000, '4403')).code).toBe(4403);
    expect(bad.messages).toEqual([{ type: 'error', error: { code: 'PERMISSION_DENIED', message: 'Forbidden resource' } }]);

    const none = new Client(await openWs(url));
    none.send({ type: 'init' });
    const closed = await within(none.closed.promise, 3000, '4401');
    expect(closed).toEqual({ code: 4401, reason: 'init token required' });
    expect(none.messages[0]).toMatchObject({ type: 'error', error: { code: 'UNAUTHENTICATED' } });
  });

  it('validates its options', () => {
    expect(() => resolveLonglinkOptions({ ws: { connectionGuardAt: 'later' as 'init' } })).toThrow(/ws.connectionGuardAt/);
    expect(() => resolveLonglinkOptions({ ws: { initTimeoutMs: 0 } })).toThrow(/ws.initTimeoutMs/);
    const resolved = resolveLonglinkOptions({ ws: { connectionGuardAt: 'init' } }).ws!;
    expect(resolved).toMatchObject({ requireInit: true, initTimeoutMs: 10_000, connectionGuardAt: 'init' });
    expect(resolveLonglinkOptions({ ws: true }).ws).toMatchObject({ requireInit: false, connectionGuardAt: 'upgrade' });
  });
});
