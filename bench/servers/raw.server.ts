import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { WebSocketServer, type WebSocket } from 'ws';
import { benchValue } from '../bench.protocol.js';
import { BENCH_PROTO, type BenchServer } from './bench-server.interface.js';

/** A gRPC stream of the bench service: `{ data }` messages, or pre-encoded ones (the limit server). */
export type RawCall = grpc.ServerWritableStream<{ hello: boolean; own: boolean }, { data: Buffer } | Buffer>;

/**
 * The raw baselines, written the plain way a user without Nest would: a `node:http` SSE
 * endpoint, a `ws` server and a `@grpc/grpc-js` server, each keeping a set of subscribers and
 * broadcasting with one `write`/`send` per value per subscriber. The value is serialised once
 * per publish, as any broadcast loop would. `RawLimitServer` (`raw-limit.server.ts`) extends it
 * with the fastest way to write.
 */
export class RawServer implements BenchServer {
  protected readonly sse = new Set<http.ServerResponse>();
  protected readonly ws = new Set<WebSocket>();
  protected readonly calls = new Set<RawCall>();
  /** Subscribers of the per-subscriber-handler stream (`?own=1`, gRPC `own: true`). */
  private readonly ownSse = new Set<http.ServerResponse>();
  private readonly ownWs = new Set<WebSocket>();
  private readonly ownCalls = new Set<RawCall>();
  private httpServer?: http.Server;
  private wss?: WebSocketServer;
  private grpcServer?: grpc.Server;

  /** Whether gRPC messages are written pre-encoded (the response serializer passes bytes through). */
  protected readonly preEncoded: boolean = false;

  /** Sends the SSE response's head (the limit server sends it at once: later chunks go to the socket). */
  protected openSse(res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  }

  async start(): Promise<{ http: number; grpc: number }> {
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/raw-sse') {
        res.writeHead(404).end();
        return;
      }
      this.openSse(res);
      if (url.searchParams.has('hello')) {
        res.write(`data: ${JSON.stringify(benchValue(0))}\n\n`);
        return;
      }
      const set = url.searchParams.has('own') ? this.ownSse : this.sse;
      set.add(res);
      res.on('close', () => set.delete(res));
    });
    this.httpServer = server;
    this.wss = new WebSocketServer({ server, path: '/raw-ws' });
    this.wss.on('connection', (socket, req) => {
      if ((req.url ?? '').includes('hello')) {
        socket.send(JSON.stringify(benchValue(0)));
        return;
      }
      const set = (req.url ?? '').includes('own') ? this.ownWs : this.ws;
      set.add(socket);
      socket.on('close', () => set.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

    const definition = protoLoader.loadSync(BENCH_PROTO, { keepCase: false, defaults: true });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      bench: { v1: { Bench: { service: grpc.ServiceDefinition } } };
    };
    this.grpcServer = new grpc.Server();
    const service = pkg.bench.v1.Bench.service;
    const passThrough = { ...service, Subscribe: { ...service.Subscribe!, responseSerialize: (b: Buffer) => b } };
    this.grpcServer.addService(this.preEncoded ? passThrough : service, {
      Subscribe: (call: RawCall) => {
        if (call.request.hello) {
          const data = Buffer.from(JSON.stringify(benchValue(0)));
          call.write(this.preEncoded ? encodeMessage(data) : { data });
          return;
        }
        const set = call.request.own ? this.ownCalls : this.calls;
        set.add(call);
        const drop = (): void => void set.delete(call);
        call.on('cancelled', drop);
        call.on('close', drop);
        call.on('error', drop);
      },
    });
    const grpcPort = await new Promise<number>((resolve, reject) =>
      this.grpcServer!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
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

  /** Each subscriber's own value, serialised for it alone: what a per-subscription source loop does. */
  emitOwn(make: () => object): void {
    for (const res of this.ownSse) res.write(`data: ${JSON.stringify(make())}\n\n`);
    for (const socket of this.ownWs) socket.send(JSON.stringify(make()));
    for (const call of this.ownCalls) {
      const data = Buffer.from(JSON.stringify(make()));
      call.write(this.preEncoded ? encodeMessage(data) : { data });
    }
  }

  subscriptions(): number {
    return this.sse.size + this.ws.size + this.calls.size + this.ownSse.size + this.ownWs.size + this.ownCalls.size;
  }

  async close(): Promise<void> {
    for (const res of [...this.sse, ...this.ownSse]) res.destroy();
    for (const socket of [...this.ws, ...this.ownWs]) socket.terminate();
    this.wss?.close();
    this.grpcServer?.forceShutdown();
    this.httpServer?.closeAllConnections();
    await new Promise<void>((resolve) => (this.httpServer ? this.httpServer.close(() => resolve()) : resolve()));
  }
}

/** `bench.v1.Message { data }` encoded by hand: field 1, length-delimited. */
export function encodeMessage(data: Buffer): Buffer {
  const head: number[] = [0x0a];
  for (let n = data.length; ; n >>>= 7) {
    if (n < 0x80) {
      head.push(n);
      break;
    }
    head.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from(head), data]);
}
