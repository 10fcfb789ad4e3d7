/**
 * A Node process that used the client exits as soon as it has closed it: no timer (the SSE
 * heartbeat watchdog, a WebSocket ping) keeps it alive. The client runs in a child process,
 * bundled by esbuild from lib/client (as the package ships it: no test runner around it).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { within } from '../harness/util.js';
import { hostileHttp, hostileWs, type Hostile } from './hostile-servers.js';

const CHILD = `
import { createClient } from ${JSON.stringify(fileURLToPath(new URL('../../lib/client/index.ts', import.meta.url)))};
import WebSocket from 'ws';
const [url, transport, mode] = process.argv.slice(2);
// A fetch whose body passes chunks on but never ends nor errors, even when aborted (a wrapper that
// ignores the signal, or a runtime whose abort does not reach a piped body): the read loop waits
// forever, and only the client's own cleanup can release its timers.
const stubborn = (input, init) => fetch(input, init).then((r) => {
  const reader = r.body.getReader();
  const body = new ReadableStream({
    pull: async (c) => {
      try {
        const x = await reader.read();
        if (!x.done) return c.enqueue(x.value);
      } catch {}
      return new Promise(() => undefined);
    },
  });
  return new Response(body, { status: r.status, headers: r.headers });
});
// Long heartbeat and ping: a timer left behind would hold the process for 20 s.
const client = createClient({ url, transport, WebSocket, fetch: mode === 'stubborn' ? stubborn : undefined, sse: { heartbeatMs: 10_000, fetch: true }, ws: { pingMs: 10_000, idleMs: 10_000 } });
client.stream('x').subscribe({
  next: (v) => console.log('value', JSON.stringify(v)),
  error: (e) => { console.log('error', e.message); process.exitCode = 1; },
  complete: async () => { await client.close(); console.log('closed'); },
});
`;

let dir: string;
let script: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'longlink-exit-'));
  const entry = join(dir, 'child.ts');
  writeFileSync(entry, CHILD);
  script = join(dir, 'child.mjs');
  // Everything bundled (ESM ignores NODE_PATH); ws's optional native add-ons stay out, and its
  // require() of Node built-ins gets a real require.
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: script,
    external: ['bufferutil', 'utf-8-validate'],
    nodePaths: [fileURLToPath(new URL('../../node_modules', import.meta.url))],
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'silent',
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the child; resolves with its output and the ms from its 'closed' line to its exit. */
function run(url: string, transport: string, mode = ''): Promise<{ output: string; code: number | null; lingerMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, url, transport, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    let closedAt = 0;
    child.stdout.on('data', (b: Buffer) => {
      output += String(b);
      if (!closedAt && output.includes('closed')) closedAt = Date.now();
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ output, code, lingerMs: closedAt ? Date.now() - closedAt : -1 }));
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });
}

describe('a Node process exits at once after client.close()', { timeout: 30_000 }, () => {
  const servers: Hostile[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('SSE through fetch: a completed stream leaves no heartbeat watchdog behind', async () => {
    // The response stays open after `complete` (a proxy may hold it): nothing but the client's own cleanup ends it.
    const server = await hostileHttp((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/event-stream' }).write('retry: 2000\n\nid: 1\ndata: {"n":1}\n\nevent: complete\ndata: {}\n\n'),
    );
    servers.push(server);
    const { output, code, lingerMs } = await within(run(server.url, 'sse'), 20_000, 'child exit');
    expect(output).toContain('value {"n":1}');
    expect(code).toBe(0);
    expect(lingerMs).toBeGreaterThanOrEqual(0);
    expect(lingerMs).toBeLessThan(3000);
  });

  it('SSE through a fetch whose body never ends after the abort: the watchdog is cleared when the subscription ends, not when the read loop does', async () => {
    const server = await hostileHttp((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/event-stream' }).end('id: 1\ndata: {"n":1}\n\nevent: complete\ndata: {}\n\n'),
    );
    servers.push(server);
    const { output, code, lingerMs } = await within(run(server.url, 'sse', 'stubborn'), 20_000, 'child exit');
    expect(output).toContain('value {"n":1}');
    expect(code).toBe(0);
    expect(lingerMs).toBeGreaterThanOrEqual(0);
    expect(lingerMs).toBeLessThan(3000);
  });

  it('WebSocket: no ping or idle timer behind', async () => {
    const server = await hostileWs((socket, m) => {
      socket.send(JSON.stringify({ type: 'next', id: m.id, eventId: '1', data: { n: 1 } }));
      socket.send(JSON.stringify({ type: 'complete', id: m.id }));
    });
    servers.push(server);
    const { output, code, lingerMs } = await within(run(server.url, 'ws'), 20_000, 'child exit');
    expect(output).toContain('value {"n":1}');
    expect(code).toBe(0);
    expect(lingerMs).toBeLessThan(3000);
  });
});
