import type { Server as HttpServer } from 'node:http';
import {
  Controller,
  Injectable,
  Module,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type LoggerService,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { EventSource } from 'eventsource';
import { of } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  InMemoryTicketStore,
  LonglinkModule,
  Stream,
  StreamContext,
  StreamTicketGuard,
  StreamTicketService,
  getStreamCall,
  tracked,
  type StreamCall,
} from '../../lib/index.js';
import { DemoModule } from '../../sample/demo/demo.module.js';
import { parseSse, rawGet } from '../harness/raw-http.js';
import { createHttpApp, type HttpPlatform } from '../harness/sse.harness.js';
import { until, within, wsText } from '../harness/util.js';

/** Reads the session cookie, as an app's cookie-session guard would. */
@Injectable()
class CookieGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (getStreamCall(context)?.cookies.session !== 'ok') throw new UnauthorizedException('No session');
    return true;
  }
}

@Controller('tk')
class TicketController {
  @Stream('a')
  @UseGuards(StreamTicketGuard)
  a(@StreamContext() call: StreamCall) {
    return of(tracked('1', { user: call.user ?? null, params: call.params }));
  }

  @Stream('b')
  @UseGuards(StreamTicketGuard)
  b() {
    return of(tracked('1', { b: true }));
  }

  @Stream('post', { sse: { method: 'POST' } })
  @UseGuards(StreamTicketGuard)
  post(@StreamContext() call: StreamCall) {
    return of(tracked('1', { params: call.params }));
  }

  @Stream('cookie')
  @UseGuards(CookieGuard)
  cookie(@StreamContext() call: StreamCall) {
    return of(tracked('1', { session: call.cookies.session }));
  }
}

/** Every log line, to prove tickets never reach logs. */
class CaptureLogger implements LoggerService {
  lines: string[] = [];
  private add = (...args: unknown[]) => void this.lines.push(args.map((a) => (a instanceof Error ? a.stack : String(a))).join(' '));
  log = this.add;
  error = this.add;
  warn = this.add;
  debug = this.add;
  verbose = this.add;
  fatal = this.add;
}

@Module({
  imports: [LonglinkModule.forRoot({ isGlobal: true, ws: true, tickets: { secret: 'x'.repeat(32) } }), DemoModule],
  controllers: [TicketController],
  providers: [CookieGuard],
})
class AuthModule {}

describe.each<HttpPlatform>(['express', 'fastify'])('Browser authentication (%s)', (platform) => {
  let app: Awaited<ReturnType<typeof NestFactory.create>>;
  let baseUrl: string;
  let tickets: StreamTicketService;
  const logs = new CaptureLogger();
  beforeAll(async () => {
    const options = { logger: logs, forceCloseConnections: true };
    app =
      platform === 'fastify' ? await NestFactory.create(AuthModule, new FastifyAdapter(), options) : await NestFactory.create(AuthModule, options);
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${((app.getHttpServer() as HttpServer).address() as { port: number }).port}`;
    tickets = app.get(StreamTicketService);
  });
  afterAll(() => app.close());

  const status = async (path: string) => {
    const res = await rawGet(`${baseUrl}${path}`);
    return { status: res.status, body: await res.body() };
  };

  it('demo/secure: POST /demo/ticket, then EventSource with ?ticket= gets the stream once; reuse is 401', async () => {
    expect((await fetch(`${baseUrl}/demo/ticket`, { method: 'POST' })).status).toBe(401);
    const issued = await fetch(`${baseUrl}/demo/ticket`, { method: 'POST', headers: { authorization: 'Bearer demo-token' } });
    expect(issued.status).toBe(201);
    const { ticket } = (await issued.json()) as { ticket: string };
    expect(ticket).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const es = new EventSource(`${baseUrl}/demo/secure?ticket=${ticket}`);
    const data = await within(
      new Promise<string>((resolve, reject) => {
        es.onmessage = (e) => resolve(e.data as string);
        es.onerror = (e) => reject(new Error(`EventSource error ${JSON.stringify(e)}`));
      }),
      5000,
      'demo/secure event',
    );
    es.close();
    expect(JSON.parse(data)).toEqual({ ok: true });
    const again = await status(`/demo/secure?ticket=${ticket}`);
    expect(again.status).toBe(401);
    expect(JSON.parse(again.body)).toEqual({ code: 'UNAUTHENTICATED', message: 'Stream ticket already used' });
    // The header still works, and nothing at all is 401.
    expect((await rawGet(`${baseUrl}/demo/secure`, { authorization: 'Bearer demo-token' })).status).toBe(200);
    expect((await status('/demo/secure')).status).toBe(401);
  });

  it('tickets: wrong stream, tampering, expiry, other params → 401; subject → call.user; not a param', async () => {
    const wrong = await status(`/tk/b?ticket=${tickets.issue('tk/a')}`);
    expect([wrong.status, (JSON.parse(wrong.body) as { message: string }).message]).toEqual([401, 'Stream ticket is for another stream']);

    const good = tickets.issue('tk/a', { subject: 'u1' });
    const [body, sig] = good.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...payload, s: 'tk/b' })).toString('base64url');
    for (const bad of [
      `${forged}.${sig}`,
      `${body}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`,
      'garbage',
      `${body}.`,
      'x'.repeat(5000),
    ]) {
      const res = await status(`/tk/a?ticket=${bad}`);
      expect(res.status, bad.slice(0, 20)).toBe(401);
      expect((JSON.parse(res.body) as { code: string }).code).toBe('UNAUTHENTICATED');
    }
    // The untampered ticket was not used up by those attempts.
    const ok = await status(`/tk/a?ticket=${good}&x=1`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(parseSse(ok.body)[1]!.data!)).toEqual({ user: 'u1', params: { x: '1' } });

    const issuedAt = Date.now();
    const short = tickets.issue('tk/a', { ttlMs: 1 });
    await until(() => Date.now() > issuedAt + 5, 1000, 'ticket expiry');
    expect((JSON.parse((await status(`/tk/a?ticket=${short}`)).body) as { message: string }).message).toBe('Stream ticket expired');

    const bound = tickets.issue('tk/a', { params: { room: 'a' } });
    expect((JSON.parse((await status(`/tk/a?ticket=${bound}&room=b`)).body) as { message: string }).message).toBe(
      'Stream ticket is for other params',
    );
    expect((await status(`/tk/a?ticket=${tickets.issue('tk/a', { params: { room: 'a' } })}&room=a`)).status).toBe(200);
    expect((await status(`/tk/a?ticket=a&ticket=b`)).status).toBe(400);
  });

  it('only the canonical base64url signature is accepted: each lenient-decoding variant is 401 and leaves the ticket unused', async () => {
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    /** A fresh ticket whose signature has a '-' or '_' (so its standard-base64 spelling differs). */
    const issue = () => {
      for (;;) {
        const ticket = tickets.issue('tk/a');
        if (/[-_]/.test(ticket.split('.')[1]!)) return ticket;
      }
    };
    const variants: [string, (sig: string) => string][] = [
      ['padding', (sig) => `${sig}=`],
      ['trailing junk', (sig) => `${sig}!!`],
      ['an inserted %20', (sig) => `${sig.slice(0, 10)}%20${sig.slice(10)}`],
      ['standard base64 +/', (sig) => sig.replace(/-/g, '+').replace(/_/g, '/')],
      // The last of 43 characters carries 2 bits of the HMAC and 4 unused ones: the next letter decodes the same.
      ['another last character, same bytes', (sig) => `${sig.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(sig.at(-1)!) + 1]}`],
    ];
    for (const [what, change] of variants) {
      const ticket = issue();
      const [body, sig] = ticket.split('.') as [string, string];
      const res = await status(`/tk/a?ticket=${body}.${change(sig)}`);
      expect([res.status, JSON.parse(res.body)], what).toEqual([401, { code: 'UNAUTHENTICATED', message: 'Invalid stream ticket' }]);
      expect((await status(`/tk/a?ticket=${ticket}`)).status, `${what}: the real ticket is still unused`).toBe(200);
    }
  });

  it('a POST stream takes ?ticket= too, bound to its JSON body params', async () => {
    const send = (ticket: string, body: unknown) =>
      fetch(`${baseUrl}/tk/post?ticket=${ticket}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ok = await send(tickets.issue('tk/post', { params: { n: 1 } }), { n: 1 });
    expect(ok.status).toBe(200);
    expect(JSON.parse(parseSse(await ok.text())[1]!.data!)).toEqual({ params: { n: 1 } });
    const other = await send(tickets.issue('tk/post', { params: { n: 1 } }), { n: 2 });
    expect(other.status).toBe(401);
    expect(((await other.json()) as { message: string }).message).toBe('Stream ticket is for other params');
  });

  it('no ticket or token ever reaches the logs', async () => {
    const issued = tickets.issue('tk/a');
    const used = tickets.issue('demo/secure');
    await status(`/tk/a?ticket=${issued}`);
    await status(`/tk/a?ticket=${issued}`);
    await status(`/demo/secure?ticket=${used}`);
    await status(`/tk/nope?ticket=${used}&token=demo-token`);
    await status(`/demo/fail?after=0&ticket=${used}`);
    expect(logs.lines.length).toBeGreaterThan(0);
    const all = logs.lines.join('\n');
    expect(all).not.toContain(issued.slice(0, 20));
    expect(all).not.toContain(used.slice(0, 20));
    expect(all).not.toContain('demo-token');
  });

  it('cookies reach guards on SSE and on WebSocket', async () => {
    expect((await status('/tk/cookie')).status).toBe(401);
    const sse = await rawGet(`${baseUrl}/tk/cookie`, { cookie: 'theme=dark; session=ok' });
    expect(JSON.parse(parseSse(await sse.body())[1]!.data!)).toEqual({ session: 'ok' });
    for (const [cookie, expected] of [
      ['session=ok', { type: 'next', data: { session: 'ok' } }],
      ['session=no', { type: 'error', code: 'UNAUTHENTICATED' }],
    ] as const) {
      const ws = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`, { headers: { cookie } });
      const first = new Promise<Record<string, unknown>>((resolve, reject) => {
        ws.on('error', reject);
        ws.on('message', (m) => resolve(JSON.parse(wsText(m)) as Record<string, unknown>));
      });
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ type: 'subscribe', id: 's', stream: 'tk/cookie' }));
      const msg = await within(first, 5000, 'ws reply');
      ws.close();
      if (expected.type === 'next') expect(msg).toMatchObject({ type: 'next', data: expected.data });
      else expect(msg).toMatchObject({ type: 'error', id: 's', error: { code: expected.code } });
    }
  });
});

describe('InMemoryTicketStore at capacity (SSE)', () => {
  @Module({
    imports: [LonglinkModule.forRoot({ isGlobal: true, tickets: { secret: 'y'.repeat(32), store: new InMemoryTicketStore(2) } })],
    controllers: [TicketController],
    providers: [CookieGuard],
  })
  class SmallStoreModule {}

  let ctx: Awaited<ReturnType<typeof createHttpApp>>;
  beforeAll(async () => {
    ctx = await createHttpApp('express', SmallStoreModule);
  });
  afterAll(() => ctx.app.close());

  it('full of live ids: a new ticket gets 503 UNAVAILABLE with Retry-After (not "already used"); used ones stay used', async () => {
    const tickets = ctx.app.get(StreamTicketService);
    const [first, second, third] = [tickets.issue('tk/a'), tickets.issue('tk/a'), tickets.issue('tk/a')];
    expect((await rawGet(`${ctx.baseUrl}/tk/a?ticket=${first}`)).status).toBe(200);
    expect((await rawGet(`${ctx.baseUrl}/tk/a?ticket=${second}`)).status).toBe(200);
    const full = await rawGet(`${ctx.baseUrl}/tk/a?ticket=${third}`);
    expect(full.status).toBe(503);
    expect(full.res.headers['retry-after']).toMatch(/^(?:[1-9]|[12]\d|30)$/); // within the 30 s TTL
    expect(JSON.parse(await full.body())).toMatchObject({ code: 'UNAVAILABLE', message: 'Too many stream tickets in use; try again later' });
    const again = await rawGet(`${ctx.baseUrl}/tk/a?ticket=${first}`);
    expect([again.status, (JSON.parse(await again.body()) as { message: string }).message]).toEqual([401, 'Stream ticket already used']);
  });
});
