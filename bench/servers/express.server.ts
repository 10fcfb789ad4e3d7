import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Response } from 'express';
import { benchValue } from '../bench.protocol.js';
import type { BenchServer } from './bench-server.interface.js';

/**
 * The raw Express SSE baseline: the raw `node:http` loop of `raw.server.ts` as an Express
 * route (same path, same frames), so the report shows what Express itself costs per
 * subscription beside the module (which serves SSE through Nest's Express adapter). SSE
 * only: WebSocket and gRPC are not served.
 */
export class ExpressServer implements BenchServer {
  private readonly sse = new Set<Response>();
  private server?: Server;

  async start(): Promise<{ http: number; grpc: number }> {
    const app = express();
    app.get('/raw-sse', (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      if (req.query.hello !== undefined) {
        res.write(`data: ${JSON.stringify(benchValue(0))}\n\n`);
        return;
      }
      this.sse.add(res);
      res.on('close', () => this.sse.delete(res));
    });
    this.server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    return { http: (this.server.address() as AddressInfo).port, grpc: 0 };
  }

  publish(value: object): void {
    if (this.sse.size === 0) return;
    const frame = `data: ${JSON.stringify(value)}\n\n`;
    for (const res of this.sse) res.write(frame);
  }

  /** Not served here: the per-subscriber-handler scenario compares the module with raw. */
  emitOwn(): void {}

  subscriptions(): number {
    return this.sse.size;
  }

  async close(): Promise<void> {
    for (const res of this.sse) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
