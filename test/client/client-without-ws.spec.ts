import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { createClient } from '../../lib/client/index.js';
import { within } from '../harness/util.js';

// Node 20 without the optional peer `ws` (and no WebSocket option): as if it were not installed.
vi.mock('ws', () => {
  throw new Error("Cannot find package 'ws'");
});

describe('client in Node without ws installed', () => {
  it("transport 'ws': a terminal BAD_REQUEST naming the fix, not endless reconnects", async () => {
    const client = createClient({ url: 'http://127.0.0.1:1', transport: 'ws' }); // default retry: maxAttempts Infinity
    try {
      const error = await within(
        firstValueFrom(client.stream('any/stream')).catch((e: unknown) => e),
        5000,
        'the error',
      );
      expect(error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('npm install ws') as unknown });
      expect(client.reconnects).toBe(0);
    } finally {
      await client.close();
    }
  });

  it("transport 'auto': falls back to SSE", async () => {
    const server = createServer((req, res) =>
      res.writeHead(200, { 'content-type': 'text/event-stream' }).end('id: 1\ndata: {"ok":true}\n\nevent: complete\ndata: {}\n\n'),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = createClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, transport: 'auto' });
    try {
      expect(await within(firstValueFrom(client.stream('any/stream').pipe(toArray())), 5000, 'the values')).toEqual([{ ok: true }]);
      expect(client.transport).toBe('sse');
    } finally {
      await client.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
