import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { INestApplication } from '@nestjs/common';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModule } from '../../sample/app.module.js';
import { fakeReply } from '../../sample/demo/demo.controller.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { TestRedis, freePort } from '../harness/redis-server.js';
import { deferred, within } from '../harness/util.js';

function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error('Chromium not found: run scripts/ensure-test-deps.sh or set CHROMIUM_PATH');
  return found;
}

const launch = () =>
  chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

type Demo = { counter: number[]; chat: string[]; ticker: number; resets: string[] };
const demo = (page: Page) => page.evaluate(() => (window as unknown as { demo: Demo }).demo && {
  counter: (window as unknown as { demo: Demo }).demo.counter,
  chat: (window as unknown as { demo: Demo }).demo.chat,
  ticker: (window as unknown as { demo: Demo }).demo.ticker,
  resets: (window as unknown as { demo: Demo }).demo.resets,
});

/** Waits until the page's counter has received `n` more values than now. */
async function counterAdvances(page: Page, n: number, timeout = 15_000): Promise<void> {
  const start = (await demo(page)).counter.length;
  await page.waitForFunction((target) => (window as unknown as { demo: Demo }).demo.counter.length >= target, start + n, { timeout });
}

/** The values are 0, 1, 2, ... with no gap and no duplicate. */
function expectContiguous(values: number[]): void {
  expect(values.length).toBeGreaterThan(0);
  expect(values).toEqual(Array.from({ length: values.length }, (_, i) => i));
}

async function post(page: Page, text: string): Promise<void> {
  await page.fill('#chat-text', text);
  await page.click('#chat-form button[type=submit]');
}

describe('sample page (client SDK) in headless Chromium', { timeout: 60_000 }, () => {
  let app: INestApplication;
  let baseUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    process.env.GRPC_PORT = '0';
    ({ app, baseUrl } = await createHttpApp('express', AppModule));
    browser = await launch();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('live updates: clock, counter, ticker chart over one WebSocket; the connection panel says so', async () => {
    const page = await browser.newPage();
    await page.goto(`${baseUrl}/`);
    const first = await page.waitForFunction(() => document.getElementById('clock')?.dataset.now, undefined, { timeout: 10_000 });
    const t1 = String(await first.jsonValue());
    await page.waitForFunction((prev) => document.getElementById('clock')?.dataset.now !== prev, t1, { timeout: 5000 });
    await counterAdvances(page, 5);
    await page.waitForFunction(() => (window as unknown as { demo: Demo }).demo.ticker >= 20, undefined, { timeout: 10_000 });
    expect(await page.$$eval('#ticker-chart canvas', (c) => c.length)).toBe(1); // drawn by uPlot
    expect(await page.textContent('#conn-state')).toBe('open');
    expect(await page.textContent('#conn-transport')).toBe('ws');
    await expect.poll(() => page.$$eval('.via', (els) => els.map((e) => e.textContent))).toEqual(Array(6).fill('via ws'));
    expectContiguous((await demo(page)).counter);
    expect(await page.textContent('#counter-check')).toMatch(/gaps 0 · duplicates 0/);
    await page.close();
  });

  it('chat round trip between two pages; a page opened later shows the history', async () => {
    const room = `room-${Date.now()}`;
    const a = await browser.newPage();
    const b = await browser.newPage();
    await a.goto(`${baseUrl}/?room=${room}`);
    await b.goto(`${baseUrl}/?room=${room}&transport=sse`);
    await a.waitForFunction(() => document.getElementById('conn-state')?.textContent === 'open');
    await b.waitForFunction(() => document.getElementById('conn-state')?.textContent === 'open');
    await post(a, 'hello from a');
    await b.waitForFunction(() => document.getElementById('chat-log')?.textContent?.includes('guest: hello from a'), undefined, { timeout: 5000 });
    await post(b, 'hello from b');
    await a.waitForFunction(() => document.getElementById('chat-log')?.textContent?.includes('guest: hello from b'), undefined, { timeout: 5000 });
    const c = await browser.newPage();
    await c.goto(`${baseUrl}/?room=${room}`);
    await c.waitForFunction(() => (window as unknown as { demo: Demo }).demo.chat.length === 2, undefined, { timeout: 5000 });
    expect(await c.$$eval('#chat-log li', (lis) => lis.map((li) => li.textContent))).toEqual(['guest: hello from a', 'guest: hello from b']);
    for (const p of [a, b, c]) await p.close();
  });

  it('POST stream (demo/complete) and authentication (demo/secure) panels work over WebSocket and SSE; no sideways scrolling on a phone', async () => {
    const expected = fakeReply('how do streams resume').join('');
    for (const transport of ['ws', 'sse']) {
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      const failed: string[] = [];
      page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
      await page.goto(`${baseUrl}/?transport=${transport}`);
      // demo/secure: the token through the WebSocket init message, or a ticket per SSE request.
      await page.waitForFunction(() => (window as unknown as { demo: { secure: boolean[] } }).demo.secure.length === 1, undefined, { timeout: 10_000 });
      expect(await page.textContent('#secure')).toBe(`accepted via ${transport}`);
      await page.click('#ask-form button[type=submit]');
      await page.waitForFunction((text) => document.getElementById('ask-reply')?.textContent === text, expected, { timeout: 15_000 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
      expect(failed).toEqual([]); // no 404 (favicon included), no refusal
      await page.close();
    }
  });

  it('WebSocket path refused → the page falls back to SSE and streams', async () => {
    const page = await browser.newPage();
    await page.goto(`${baseUrl}/?wsPath=/nope`);
    await counterAdvances(page, 5);
    expect(await page.textContent('#conn-transport')).toBe('sse');
    expectContiguous((await demo(page)).counter);
    await page.close();
  });

  it('the browser going online, or the page becoming visible, cuts a pending reconnect short', async () => {
    const page = await browser.newPage();
    await page.goto(`${baseUrl}/?retryMs=600000`); // the next reconnect would wait 10 minutes
    await counterAdvances(page, 3);
    await page.click('#drop');
    await page.waitForFunction(() => document.getElementById('conn-state')?.textContent === 'reconnecting', undefined, { timeout: 5000 });
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await page.waitForFunction(() => document.getElementById('conn-state')?.textContent === 'open', undefined, { timeout: 5000 });
    await counterAdvances(page, 3);
    // The page becoming visible again does the same.
    await page.click('#drop');
    await page.waitForFunction(() => document.getElementById('conn-state')?.textContent === 'reconnecting', undefined, { timeout: 5000 });
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await page.waitForFunction(() => document.getElementById('conn-state')?.textContent === 'open', undefined, { timeout: 5000 });
    await counterAdvances(page, 3);
    expectContiguous((await demo(page)).counter);
    await page.close();
  });

  it('transport switch mid-stream, both ways, and a dropped connection: no gap or duplicate', async () => {
    const room = `switch-${Date.now()}`;
    const page = await browser.newPage();
    const other = await browser.newPage();
    await page.goto(`${baseUrl}/?room=${room}`);
    await other.goto(`${baseUrl}/?room=${room}`);
    await counterAdvances(page, 3);
    let sent = 0;
    for (const action of ['#switch', '#switch', '#drop', '#switch']) {
      await page.click(action);
      await post(other, `m${sent++}`);
      await counterAdvances(page, 4);
    }
    expect(await page.textContent('#conn-transport')).toBe('sse');
    expectContiguous((await demo(page)).counter);
    await page.waitForFunction((n) => (window as unknown as { demo: Demo }).demo.chat.length === n, sent, { timeout: 5000 });
    const { chat } = await demo(page);
    expect(new Set(chat).size).toBe(chat.length);
    expect(await page.$$eval('#chat-log li', (lis) => lis.map((li) => li.textContent))).toEqual(
      Array.from({ length: sent }, (_, i) => `guest: m${i}`),
    );
    expect(Number(await page.textContent('#conn-reconnects'))).toBeGreaterThanOrEqual(1);
    await page.close();
    await other.close();
  });
});

describe('sample server killed and restarted on the same port (Redis hub)', () => {
  let redis: TestRedis;
  let browser: Browser;
  let child: ChildProcess | undefined;
  let port: number;
  const root = fileURLToPath(new URL('../../', import.meta.url));

  /** Starts dist/sample/main.js; resolves once it listens. */
  async function startSample(): Promise<void> {
    const ready = deferred<void>();
    const proc = spawn(process.execPath, ['dist/sample/main.js'], {
      cwd: root,
      env: { ...process.env, PORT: String(port), GRPC_PORT: '0', REDIS_URL: redis.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('sample listening')) ready.resolve();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => ready.settled || ready.reject(new Error(`sample exited (${code}): ${output}`)));
    await within(ready.promise, 30_000, 'sample listening');
  }

  async function killSample(): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGKILL');
    await exited;
  }

  beforeAll(async () => {
    if (!existsSync(`${root}dist/sample/main.js`)) {
      const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
      if (build.status !== 0) throw new Error('build failed');
    }
    redis = await TestRedis.start();
    port = await freePort();
    browser = await launch();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await killSample();
    await redis?.kill();
  });

  it('counter and chat resume with no gap or duplicate', async () => {
    await startSample();
    const room = `restart-${Date.now()}`;
    const page = await browser.newPage();
    const other = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/?room=${room}`);
    await other.goto(`http://127.0.0.1:${port}/?room=${room}&transport=sse`);
    await counterAdvances(page, 5);
    await post(other, 'before');
    await page.waitForFunction(() => (window as unknown as { demo: Demo }).demo.chat.length === 1, undefined, { timeout: 5000 });

    await killSample();
    await page.waitForFunction(() => document.getElementById('conn-state')?.textContent === 'reconnecting', undefined, { timeout: 5000 });
    await startSample();
    await counterAdvances(page, 10, 30_000);
    // Posted after the restart, while the page may still be reconnecting: it arrives exactly once.
    await post(other, 'after');
    await page.waitForFunction(() => (window as unknown as { demo: Demo }).demo.chat.length === 2, undefined, { timeout: 15_000 });
    const state = await demo(page);
    expectContiguous(state.counter);
    expect(state.resets).toEqual([]);
    expect(await page.$$eval('#chat-log li', (lis) => lis.map((li) => li.textContent))).toEqual(['guest: before', 'guest: after']);
    expect(Number(await page.textContent('#conn-reconnects'))).toBeGreaterThanOrEqual(1);
    await page.close();
    await other.close();
  }, 120_000);
});
