import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { WebSocketServer, type WebSocket } from 'ws';
import { benchValue } from '../bench.protocol.js';
import { BENCH_PROTO, type BenchServer } from './bench-server.interface.js';

/**
 * The raw baselines, written the plain way a user without Nest would: a `node:http` SSE
 * endpoint, a `ws` server and a `@grpc/grpc-js` server, each keeping a set of subscribers and
 * broadcasting with one `write`/`send` per value per subscriber. The value is serialised once
 * per publish, as any broadcast loop would.
 */
export class RawServer implements BenchServer {
  private readonly sse = new Set<http.ServerResponse>();
  private readonly ws = new Set<WebSocket>();
  private readonly calls = new Set<grpc.ServerWritableStream<{ hello: boolean }, { data: Buffer }>>();
  private httpServer?: http.Server;
  private wss?: WebSocketServer;
  private grpcServer?: grpc.Server;

  async start(): Promise<{ http: number; grpc: number }> {
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/raw-sse') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      if (url.searchParams.has('hello')) {
        res.write(`data: ${JSON.stringify(benchValue(0))}\n\n`);
        return;
      }
      this.sse.add(res);
      res.on('close', () => this.sse.delete(res));
    });
    this.httpServer = server;
    this.wss = new WebSocketServer({ server, path: '/raw-ws' });
    this.wss.on('connection', (socket, req) => {
      if ((req.url ?? '').includes('hello')) {
        socket.send(JSON.stringify(benchValue(0)));
        return;
      }
      this.ws.add(socket);
      socket.on('close', () => this.ws.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

    const definition = protoLoader.loadSync(BENCH_PROTO, { keepCase: false, defaults: true });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      bench: { v1: { Bench: { service: grpc.ServiceDefinition } } };
    };
    this.grpcServer = new grpc.Server();
    this.grpcServer.addService(pkg.bench.v1.Bench.service, {
      Subscribe: (call: grpc.ServerWritableStream<{ hello: boolean }, { data: Buffer }>) => {
        if (call.request.hello) {
          call.write({ data: Buffer.from(JSON.stringify(benchValue(0))) });
          return;
        }
        this.calls.add(call);
        const drop = (): void => void this.calls.delete(call);
        call.on('cancelled', drop);
        call.on('close', drop);
        call.on('error', drop);
      },
    });
    const grpcPort = await new Promise<number>((resolve, reject) =>
      this.grpcServer!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
    return { http: (server.address() as AddressInfo).port, grpc: grpcPort };
  }

  publish(value: object): void {
    this.broadcast(JSON.stringify(value));
  }

  /** Writes one serialised value to every subscriber. */
  protected broadcast(json: string): void {
    if (this.sse.size > 0) {
      const frame = `data: ${json}\n\n`;
      for (const res of this.sse) res.write(frame);
    }
    for (const socket of this.ws) socket.send(json);
    if (this.calls.size > 0) {
      const data = Buffer.from(json);
      for (const call of this.calls) call.write({ data });
    }
  }

  subscriptions(): number {
    return this.sse.size + this.ws.size + this.calls.size;
  }

  async close(): Promise<void> {
    for (const res of this.sse) res.destroy();
    for (const socket of this.ws) socket.terminate();
    this.wss?.close();
    this.grpcServer?.forceShutdown();
    this.httpServer?.closeAllConnections();
    await new Promise<void>((resolve) => (this.httpServer ? this.httpServer.close(() => resolve()) : resolve()));
  }
}

