import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { writePaths } from '../core/write-paths.js';
import { conformanceModule } from '../../test/fixtures/probe.js';
import { parseSse, rawGet } from '../../test/harness/raw-http.js';
import { createHttpApp } from '../../test/harness/sse.harness.js';

/**
 * The Node HTTP door on real responses (Express over Node's http): with `chunkedEncoding` and
 * an unwrapped `res.write`, events go straight to the socket; with the shape changed on the
 * response (what a Node release that renamed or hid `chunkedEncoding` would look like), every
 * event goes through `res.write()`, counted as a fallback, and the stream is intact.
 */
async function count(mutate?: (res: ServerResponse) => void): Promise<{ ids: (string | undefined)[]; direct: number; fallback: number }> {
  const { app, baseUrl } = await createHttpApp('express', conformanceModule(), (a) => {
    if (mutate) a.use((_req: IncomingMessage, res: ServerResponse, next: () => void) => (mutate(res), next()));
  });
  try {
    const before = { direct: writePaths.sseDirect, fallback: writePaths.sseFallback };
    const res = await rawGet(`${baseUrl}/demo/counter?count=10&intervalMs=0`);
    const ids = parseSse(await res.body())
      .filter((e) => e.data?.startsWith('{"n"'))
      .map((e) => e.id);
    return { ids, direct: writePaths.sseDirect - before.direct, fallback: writePaths.sseFallback - before.fallback };
  } finally {
    await app.close();
  }
}

const TEN = Array.from({ length: 10 }, (_, i) => String(i));

describe('Node HTTP door', () => {
  it('the installed Node has the shape: events go straight to the socket', async () => {
    expect(await count()).toEqual({ ids: TEN, direct: 10, fallback: 0 });
  });

  it('without a boolean res.chunkedEncoding, res.write() is taken, counted, and the stream is intact', async () => {
    const changed = await count((res) => {
      // Node still frames the response as chunked (a truthy value), but not with the boolean the door checks.
      let chunked = 0;
      Object.defineProperty(res, 'chunkedEncoding', {
        get: () => chunked,
        set: (value: unknown) => void (chunked = value ? 1 : 0),
        configurable: true,
      });
    });
    expect(changed).toEqual({ ids: TEN, direct: 0, fallback: 10 });
  });

  it('with res.write wrapped (no longer OutgoingMessage.prototype.write), res.write() is taken, counted', async () => {
    const wrapped = await count((res) => {
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      res.write = ((...args: unknown[]) => write(...args)) as typeof res.write;
    });
    expect(wrapped).toEqual({ ids: TEN, direct: 0, fallback: 10 });
  });
});
