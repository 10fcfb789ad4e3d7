import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { writePaths } from '../core/write-paths.js';
import { loadWs } from '../transports/ws/ws.loader.js';
import { conformanceModule } from '../../test/fixtures/probe.js';
import { createHttpApp } from '../../test/harness/sse.harness.js';
import { deferred, within, wsText } from '../../test/harness/util.js';
import { openWs, type WsServerMessage } from '../../test/harness/ws.harness.js';

/**
 * The `ws` door on real connections (the `ws` of @nestjs/platform-ws, a real client): with the
 * shape it relies on (`ws` writes its frames to the socket handed to `handleUpgrade()`, through
 * its `Sender`), `next` frames are written raw to the socket; with that shape changed on the
 * new connection's `ws` object, they go through `ws.send()`, counted as a fallback, and the
 * client reads the very same messages.
 */
type Internals = { _socket?: unknown; _sender?: { _socket?: unknown } };

/** Runs `mutate` on every server-side `ws` object as `handleUpgrade()` hands it over, and undoes it after the handover. */
async function withUpgradedWs<T>(mutate: ((ws: Internals) => () => void) | undefined, run: () => Promise<T>): Promise<T> {
  const proto = loadWs().WebSocketServer.prototype as unknown as { handleUpgrade: (...args: unknown[]) => void };
  const original = proto.handleUpgrade;
  if (mutate) {
    proto.handleUpgrade = function (this: unknown, ...args: unknown[]) {
      const callback = args[3] as (ws: WebSocket, ...rest: unknown[]) => void;
      args[3] = (ws: WebSocket, ...rest: unknown[]) => {
        const undo = mutate(ws as unknown as Internals);
        try {
          callback(ws, ...rest);
        } finally {
          undo();
        }
      };
      return original.apply(this, args);
    };
  }
  try {
    return await run();
  } finally {
    proto.handleUpgrade = original;
  }
}

async function count(): Promise<{ data: unknown[]; frame: number; fallback: number }> {
  const { app, baseUrl } = await createHttpApp('express', conformanceModule({ ws: { path: '/ws' } }));
  try {
    const ws = await openWs(`${baseUrl.replace('http', 'ws')}/ws`);
    const data: unknown[] = [];
    const done = deferred();
    ws.on('message', (raw, isBinary) => {
      expect(isBinary).toBe(false);
      const message = JSON.parse(wsText(raw)) as WsServerMessage;
      if (message.type === 'next') data.push((message as { data?: unknown }).data);
      if (message.type === 'complete' || message.type === 'error') done.resolve();
    });
    const before = { frame: writePaths.wsFrame, fallback: writePaths.wsFallback };
    ws.send(JSON.stringify({ type: 'subscribe', id: 'a', stream: 'demo/counter', params: { count: 10, intervalMs: 0 } }));
    await within(done.promise, 5000, 'complete');
    ws.close();
    return { data, frame: writePaths.wsFrame - before.frame, fallback: writePaths.wsFallback - before.fallback };
  } finally {
    await app.close();
  }
}

const TEN = Array.from({ length: 10 }, (_, n) => ({ n }));

describe('ws door', () => {
  it('the installed ws has the shape: next frames go raw to the socket', async () => {
    expect(await withUpgradedWs(undefined, count)).toEqual({ data: TEN, frame: 10, fallback: 0 });
  });

  it('when ws keeps its socket elsewhere (no _socket), frames go through ws.send(), counted, and read the same', async () => {
    const moved = await withUpgradedWs((ws) => {
      const socket = ws._socket;
      delete ws._socket;
      return () => void (ws._socket = socket);
    }, count);
    expect(moved).toEqual({ data: TEN, frame: 0, fallback: 10 });
  });

  it("when ws' sender writes to another socket (_sender._socket), frames go through ws.send(), counted", async () => {
    const moved = await withUpgradedWs((ws) => {
      const sender = ws._sender!;
      const socket = sender._socket;
      sender._socket = undefined;
      return () => void (sender._socket = socket);
    }, count);
    expect(moved).toEqual({ data: TEN, frame: 0, fallback: 10 });
  });
});
