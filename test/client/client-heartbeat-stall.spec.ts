import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type LonglinkClient } from '../../lib/client/index.js';
import { until, within } from '../harness/util.js';

/**
 * An SSE server in a worker thread: it keeps writing heartbeats (`:` lines every 20 ms) while
 * the test's own thread is blocked, as a remote server does while a client's event loop stalls.
 */
const SERVER = `
const http = require('node:http');
const { parentPort } = require('node:worker_threads');
let requests = 0;
let beats = 0;
const server = http.createServer((_req, res) => {
  parentPort.postMessage({ requests: ++requests });
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(':\\n\\n');
  const timer = setInterval(() => {
    res.write(':\\n\\n');
    parentPort.postMessage({ beats: ++beats });
  }, 20);
  res.on('close', () => clearInterval(timer));
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
`;

let worker: Worker | undefined;
let client: LonglinkClient | undefined;
afterEach(async () => {
  await client?.close();
  if (worker) {
    const exited = new Promise((resolve) => worker!.once('exit', resolve));
    worker.postMessage('stop');
    await within(exited, 5000, 'server worker exit');
  }
  worker = client = undefined;
});

describe('client: SSE heartbeat watchdog', () => {
  it('a stall of the client thread longer than 2 x heartbeatMs is not a missed heartbeat when bytes came meanwhile', async () => {
    const state = { port: 0, requests: 0, beats: 0 };
    worker = new Worker(SERVER, { eval: true });
    worker.on('message', (m: Partial<typeof state>) => Object.assign(state, m));
    await until(() => state.port > 0, 5000, 'server listening');
    // A reconnect, if any, comes at once (the default backoff could hide it past the test's end).
    client = createClient({ url: `http://127.0.0.1:${state.port}`, transport: 'sse', sse: { heartbeatMs: 50 }, retry: { initialMs: 1, maxMs: 1 } });
    const sub = client.stream('quiet').subscribe({ error: () => undefined });
    await until(() => state.requests === 1 && state.beats >= 3, 5000, 'the stream open, heartbeats flowing');
    // The thread is blocked for 4 x the watchdog's 100 ms while the server's heartbeats arrive.
    const blockedUntil = Date.now() + 400;
    while (Date.now() < blockedUntil) {
      // busy: no timer, no read runs
    }
    const beatsAfterStall = state.beats;
    await until(() => state.beats >= beatsAfterStall + 20, 5000, 'twenty heartbeats after the stall');
    expect(state.requests).toBe(1);
    sub.unsubscribe();
  });
});
