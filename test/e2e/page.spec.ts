import { existsSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamTracker } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { until } from '../harness/util.js';

function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error('Chromium not found: run scripts/ensure-test-deps.sh or set CHROMIUM_PATH');
  return found;
}

describe('sample page in headless Chromium', () => {
  let app: INestApplication;
  let baseUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    process.env.GRPC_PORT = '0'; // the sample also serves gRPC; any free port will do
    ({ app, baseUrl } = await createHttpApp('express', AppModule));
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('shows demo/clock and demo/counter live through EventSource and WebSocket', async () => {
    const page = await browser.newPage();
    await page.goto(`${baseUrl}/`);
    // The clock ticks: two different server times appear.
    const first = await page.waitForFunction(() => document.getElementById('clock')?.dataset.now, undefined, { timeout: 5000 });
    const t1 = await first.jsonValue();
    const second = await page.waitForFunction((prev) => {
      const now = document.getElementById('clock')?.dataset.now;
      return now && now !== prev ? now : undefined;
    }, t1, { timeout: 5000 });
    expect(Date.parse(String(await second.jsonValue()))).toBeGreaterThan(Date.parse(String(t1)));
    await expect.poll(() => page.textContent('#clock-status')).toBe('live');

    // The counter runs to completion: 0..19, then the page closes its EventSource.
    await page.waitForFunction(() => document.getElementById('counter-status')?.textContent === 'complete', undefined, {
      timeout: 15_000,
    });
    const items = await page.$$eval('#counter-log li', (lis) => lis.map((li) => Number(li.textContent)));
    expect(items).toEqual(Array.from({ length: 20 }, (_, i) => i));

    // Over one WebSocket: the clock ticks and the counter runs 0..9 to completion.
    await page.waitForFunction(() => document.getElementById('ws-log')?.dataset.complete === 'true', undefined, {
      timeout: 15_000,
    });
    const wsItems = await page.$$eval('#ws-log li', (lis) => lis.map((li) => Number(li.textContent)));
    expect(wsItems).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(await page.getAttribute('#ws-clock', 'data-now')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await page.textContent('#ws-status')).toBe('live');

    // Chat: a message sent through the form comes back through the room's stream.
    await page.fill('#chat-text', 'hello from the page');
    await page.click('#chat-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('chat-log')?.textContent?.includes('guest: hello from the page'), undefined, {
      timeout: 5000,
    });

    // Invalid params: a refusal, shown as such, and no reconnect loop.
    await page.fill('#from', '1000000000000'); // over the server's limit; the form has none
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#counter-status')).toContain('refused');

    await page.close();
    // Closing the page tears its subscriptions down on the server.
    await until(() => app.get(StreamTracker).size === 0, 5000, 'page subscriptions released');
  }, 40_000);
});
