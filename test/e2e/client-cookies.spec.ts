import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { Controller, Injectable, Module, UseGuards, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { chromium, type Browser } from 'playwright-core';
import { of } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LonglinkModule, Stream, getStreamCall, tracked } from '../../lib/index.js';
import { buildClientBundle } from '../../sample/client-bundle.js';
import { createHttpApp } from '../harness/sse.harness.js';

/** Accepts the cookie `session=ok` (parsed into call.cookies). */
@Injectable()
class CookieGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return getStreamCall(context)?.cookies?.session === 'ok';
  }
}

@Controller('cookie')
class CookieController {
  @Stream('me')
  @UseGuards(CookieGuard)
  me() {
    return of(tracked('1', { ok: true }));
  }
}

@Module({ imports: [LonglinkModule.forRoot({})], controllers: [CookieController], providers: [CookieGuard] })
class CookieModule {}

// The page and the API on two origins of one site (localhost:<page> and localhost:<api>): a
// `SameSite=Lax` cookie of localhost is sent to the API only when the client asks for credentials.
describe('client withCredentials: cookies on SSE to another origin, in headless Chromium', { timeout: 60_000 }, () => {
  let app: INestApplication;
  let pageServer: Server;
  let browser: Browser;
  let api: string;
  let pageUrl: string;

  beforeAll(async () => {
    const bundle = await buildClientBundle();
    pageServer = createServer((req, res) => {
      if (req.url === '/client.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>x</title>');
    });
    await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', r));
    pageUrl = `http://localhost:${(pageServer.address() as AddressInfo).port}`;
    let baseUrl: string;
    ({ app, baseUrl } = await createHttpApp('express', CookieModule, (a) => a.enableCors({ origin: pageUrl, credentials: true })));
    api = baseUrl.replace('127.0.0.1', 'localhost');
    const executablePath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    pageServer?.closeAllConnections();
    await new Promise((r) => (pageServer ? pageServer.close(r) : r(undefined)));
  });

  it('EventSource and fetch paths: with withCredentials the cookie reaches the guard; without, PERMISSION_DENIED', async () => {
    const context = await browser.newContext();
    await context.addCookies([{ name: 'session', value: 'ok', domain: 'localhost', path: '/', sameSite: 'Lax' }]);
    const page = await context.newPage();
    await page.goto(`${pageUrl}/`);
    // The page's script (a string: the test runner must not rewrite its dynamic import).
    const results = await page.evaluate(`(async () => {
      const { createClient } = await import('/client.js');
      const out = {};
      for (const fetchPath of [false, true]) {
        for (const withCredentials of [true, false]) {
          const client = createClient({ url: ${JSON.stringify(api)}, transport: 'sse', withCredentials, sse: { fetch: fetchPath }, retry: { maxAttempts: 0 } });
          out[(fetchPath ? 'fetch' : 'eventsource') + ' withCredentials=' + withCredentials] = await new Promise((resolve) => {
            client.stream('cookie/me').subscribe({ next: resolve, error: (e) => resolve(e.code) });
          });
          await client.close();
        }
      }
      return out;
    })()`);
    expect(results).toEqual({
      'eventsource withCredentials=true': { ok: true },
      'eventsource withCredentials=false': 'PERMISSION_DENIED',
      'fetch withCredentials=true': { ok: true },
      'fetch withCredentials=false': 'PERMISSION_DENIED',
    });
    await context.close();
  });
});
