import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
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

type Demo = { counter: number[]; chat: string[]; ticker: number; resets: string[] };
const demo = (page: Page) =>
  page.evaluate(
    () =>
      (window as unknown as { demo: Demo }).demo && {
        counter: (window as unknown as { demo: Demo }).demo.counter,
        chat: (window as unknown as { demo: Demo }).demo.chat,
        ticker: (window as unknown as { demo: Demo }).demo.ticker,
        resets: (window as unknown as { demo: Demo }).demo.resets,
      },
  );

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
  /** The server's open TCP connections (HTTP, SSE, upgraded WebSockets): destroyed to cut every client off. */
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    process.env.GRPC_PORT = '0';
    ({ app, baseUrl } = await createHttpApp('express', AppModule));
    (app.getHttpServer() as HttpServer).on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
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
    await a.goto(`${baseUrl}/?room=${room}&name=a`);
    await b.goto(`${baseUrl}/?room=${room}&name=b&transport=sse`);
    await a.waitForFunction(() => document.getElementById('conn-state')?.textContent === 'open');
    await b.waitForFunction(() => document.getElementById('conn-state')?.textContent === 'open');
    await post(a, 'hello from a');
    await b.waitForFunction(() => document.getElementById('chat-log')?.textContent?.includes('a: hello from a'), undefined, { timeout: 5000 });
    await post(b, 'hello from b');
    await a.waitForFunction(() => document.getElementById('chat-log')?.textContent?.includes('b: hello from b'), undefined, { timeout: 5000 });
    const c = await browser.newPage();
    await c.goto(`${baseUrl}/?room=${room}`);
    await c.waitForFunction(() => (window as unknown as { demo: Demo }).demo.chat.length === 2, undefined, { timeout: 5000 });
    expect(await c.$$eval('#chat-log li', (lis) => lis.map((li) => li.textContent))).toEqual(['a: hello from a', 'b: hello from b']);
    for (const p of [a, b, c]) await p.close();
  });

  it('chat shows who is online and who is typing; a closed page leaves, a reopened one joins and gets the history', async () => {
    const room = `presence-${Date.now()}`;
    const online = (page: Page) => page.evaluate(() => (window as unknown as { demo: { online: string[] } }).demo.online.join(','));
    const typing = (page: Page) => page.evaluate(() => (window as unknown as { demo: { typing: string[] } }).demo.typing.join(','));
    const alice = await browser.newPage();
    await alice.goto(`${baseUrl}/?room=${room}&name=alice`);
    let bob = await browser.newPage();
    await bob.goto(`${baseUrl}/?room=${room}&name=bob&transport=sse`);
    await expect.poll(() => online(alice), { timeout: 10_000 }).toBe('alice,bob');
    await expect.poll(() => online(bob), { timeout: 10_000 }).toBe('alice,bob');
    await bob.type('#chat-text', 'hi');
    await expect.poll(() => typing(alice), { timeout: 5000 }).toBe('bob');
    expect(await alice.textContent('#chat-online')).toBe('online: alice, bob (typing…)');
    await bob.click('#chat-form button[type=submit]');
    await expect.poll(() => typing(alice), { timeout: 5000 }).toBe('');
    await alice.waitForFunction(() => document.getElementById('chat-log')?.textContent?.includes('bob: hi'), undefined, { timeout: 5000 });

    await bob.close(); // leaves after the sample's grace window (2 s)
    await expect.poll(() => online(alice), { timeout: 10_000 }).toBe('alice');
    bob = await browser.newPage();
    await bob.goto(`${baseUrl}/?room=${room}&name=bob`);
    await expect.poll(() => online(alice), { timeout: 10_000 }).toBe('alice,bob');
    await bob.waitForFunction(() => document.getElementById('chat-log')?.textContent === 'bob: hi', undefined, { timeout: 5000 });
    for (const p of [alice, bob]) await p.close();
  });

  for (const transport of ['ws', 'sse'] as const) {
    it(`two-way chat over ${transport}: two pages send over the channel, the server cuts every connection mid-conversation, nothing is lost or duplicated; a refusal shows in the status`, async () => {
      const room = `duplex-${transport}-${Date.now()}`;
      const alice = await browser.newPage();
      const bob = await browser.newPage();
      const posts: string[] = [];
      for (const p of [alice, bob]) p.on('request', (r) => r.method() === 'POST' && posts.push(new URL(r.url()).pathname));
      await alice.goto(`${baseUrl}/?room=${room}&name=alice&transport=${transport}`);
      await bob.goto(`${baseUrl}/?room=${room}&name=bob&transport=${transport}`);
      for (const p of [alice, bob])
        await p.waitForFunction(() => document.getElementById('conn-state')?.textContent === 'open', undefined, { timeout: 10_000 });
      const log = (p: Page) => p.$$eval('#chat-log li', (lis) => lis.map((li) => li.textContent ?? ''));
      const expected: string[] = [];
      const say = async (who: 'alice' | 'bob', text: string) => {
        await post(who === 'alice' ? alice : bob, text);
        expected.push(`${who}: ${text}`);
      };
      await say('alice', 'hi bob');
      await say('bob', 'hi alice');
      await expect.poll(() => log(alice), { timeout: 10_000 }).toHaveLength(2);
      const reconnects = Number(await alice.textContent('#conn-reconnects'));

      // The server cuts every connection; lines typed meanwhile wait, then go (again) once resubscribed.
      for (const socket of sockets) socket.destroy();
      await say('alice', 'are you there?');
      await say('bob', 'still here');
      await say('alice', 'good');
      for (const p of [alice, bob]) {
        await p.waitForFunction((n) => Number(document.getElementById('conn-reconnects')?.textContent) > n, reconnects, { timeout: 15_000 });
      }
      await say('bob', 'bye');
      for (const p of [alice, bob]) await expect.poll(() => log(p), { timeout: 15_000 }).toHaveLength(expected.length);
      await expect.poll(() => log(alice), { timeout: 2000 }).toEqual(await log(bob)); // one room order, seen by both
      expect([...(await log(alice))].sort()).toEqual([...expected].sort()); // each line once
      for (const who of ['alice', 'bob']) {
        expect((await log(alice)).filter((l) => l.startsWith(`${who}:`))).toEqual(expected.filter((l) => l.startsWith(`${who}:`))); // each sender's order
      }
      for (const p of [alice, bob]) {
        const { chat, resets } = await demo(p);
        expect(chat).toHaveLength(expected.length);
        expect(new Set(chat).size).toBe(chat.length); // event ids, from channel.events
        expect(resets).toEqual([]);
      }
      // Over the channel, not the chat's HTTP routes: SSE POSTs only to the input endpoint.
      expect(posts.filter((path) => path.startsWith('/demo/chat'))).toEqual([]);
      if (transport === 'sse') expect(posts.filter((path) => path.startsWith('/longlink/input/')).length).toBeGreaterThanOrEqual(expected.length);
      else expect(posts).toEqual([]);

      // A line the server's validation refuses: the status says so, the channel goes on.
      await post(alice, '');
      await alice.waitForFunction(() => document.getElementById('chat-status')?.textContent?.startsWith('send failed:'), undefined, {
        timeout: 5000,
      });
      expect(await alice.textContent('#chat-status')).toBe('send failed: BAD_REQUEST: text must be longer than or equal to 1 characters');
      await say('alice', 'after the refusal');
      await expect.poll(() => log(bob), { timeout: 5000 }).toEqual(await log(alice));
      expect((await log(bob)).at(-1)).toBe('alice: after the refusal');
      await expect.poll(() => alice.textContent('#chat-status'), { timeout: 5000 }).not.toMatch(/send failed/);
      for (const p of [alice, bob]) await p.close();
    });
  }

  it('POST stream (demo/complete) and authentication (demo/secure) panels work over WebSocket and SSE; no sideways scrolling on a phone', async () => {
    const expected = fakeReply('how do streams resume').join('');
    for (const transport of ['ws', 'sse']) {
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      const failed: string[] = [];
      page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
      await page.goto(`${baseUrl}/?transport=${transport}`);
      // demo/secure: the token through the WebSocket init message, or a ticket per SSE request.
      await page.waitForFunction(() => (window as unknown as { demo: { secure: boolean[] } }).demo.secure.length === 1, undefined, {
        timeout: 10_000,
      });
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
    await other.goto(`${baseUrl}/?room=${room}&name=other`);
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
      Array.from({ length: sent }, (_, i) => `other: m${i}`),
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
      env: { ...process.env, PORT: String(port), GRPC_PORT: '0', REDIS_URL: redis.url, PRESENCE_TTL_MS: String(PRESENCE_TTL_MS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('sample listening')) ready.resolve();
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => ready.settled || ready.reject(new Error(`sample exited (${code}): ${output}`)));
    await within(ready.promise, 30_000, 'sample listening');
  }

  /** Presence TTL of the spawned sample: a killed process's members leave within 2 × this. */
  const PRESENCE_TTL_MS = 1500;

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
    await other.goto(`http://127.0.0.1:${port}/?room=${room}&name=other&transport=sse`);
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
    expect(await page.$$eval('#chat-log li', (lis) => lis.map((li) => li.textContent))).toEqual(['other: before', 'other: after']);
    expect(Number(await page.textContent('#conn-reconnects'))).toBeGreaterThanOrEqual(1);
    await page.close();
    await other.close();
  }, 120_000);

  it('presence is right after the sample is killed and restarted: pages back online, a page closed meanwhile gone', async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) await startSample();
    const room = `presence-restart-${Date.now()}`;
    const online = (page: Page) => page.evaluate(() => (window as unknown as { demo: { online: string[] } }).demo.online.join(','));
    const pages = new Map<string, Page>();
    for (const [name, transport] of [
      ['alice', 'ws'],
      ['bob', 'sse'],
      ['carol', 'ws'],
    ] as const) {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/?room=${room}&name=${name}&transport=${transport}`);
      pages.set(name, page);
    }
    const alice = pages.get('alice')!;
    await expect.poll(() => online(alice), { timeout: 10_000 }).toBe('alice,bob,carol');

    await killSample();
    await pages.get('carol')!.close(); // gone while the sample is down: its entry must not stay
    await startSample();
    // Members of the killed process leave within 2 × TTL of its sweep restarting (pages reconnect meanwhile).
    await expect.poll(() => online(alice), { timeout: 30_000 }).toBe('alice,bob');
    await expect.poll(() => online(pages.get('bob')!), { timeout: 10_000 }).toBe('alice,bob');
    // A page opened now gets the same list from the state.
    const dave = await browser.newPage();
    await dave.goto(`http://127.0.0.1:${port}/?room=${room}&name=dave`);
    await expect.poll(() => online(dave), { timeout: 10_000 }).toBe('alice,bob,dave');
    for (const p of [alice, pages.get('bob')!, dave]) await p.close();
  }, 120_000);
});
