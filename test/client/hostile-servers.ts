/**
 * Raw servers on 127.0.0.1, port 0, that speak (or break) the protocol on purpose: for the
 * client's hostile-input tests and the `client-fuzz` stress scenario. No Nest, no longlink server code.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { WebSocketServer, type WebSocket } from 'ws';
import { wsText } from '../harness/util.js';

export interface Hostile {
  /** `http://127.0.0.1:<port>` (SSE, WebSocket) or `127.0.0.1:<port>` (gRPC). */
  url: string;
  close(): Promise<void>;
}

/** A raw HTTP server (SSE). */
export async function hostileHttp(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Hostile> {
  const server = createServer(handler);
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A subscribe message the client sent. */
export interface Subscribe {
  id: string;
  stream: string;
  lastEventId?: string;
}

/** A raw `ws` server; `onSubscribe` is called for each subscribe message, with the connection's number (1-based). */
export async function hostileWs(onSubscribe: (socket: WebSocket, m: Subscribe, connection: number) => void): Promise<Hostile> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  let connections = 0;
  wss.on('connection', (socket) => {
    const n = ++connections;
    socket.on('error', () => undefined);
    socket.on('message', (raw) => {
      let m: { type?: string } & Subscribe;
      try {
        m = JSON.parse(wsText(raw)) as typeof m;
      } catch {
        return;
      }
      if (m.type === 'ping') socket.send('{"type":"pong"}');
      if (m.type === 'subscribe') onSubscribe(socket, m, n);
    });
  });
  return {
    url: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of wss.clients) s.terminate();
      await new Promise((r) => wss.close(r));
    },
  };
}

/** One Subscribe call on the raw gRPC server. */
export type GrpcCall = grpc.ServerWritableStream<{ stream: string; lastEventId: string }, { id: string; data: Buffer; reset?: boolean }>;

/** A raw grpc-js server with the shipped `longlink.v1.Streams` service; `onSubscribe` is called for each call (1-based). */
export async function hostileGrpc(onSubscribe: (call: GrpcCall, n: number) => void): Promise<Hostile> {
  const proto = fileURLToPath(new URL('../../proto/longlink/v1/longlink.proto', import.meta.url));
  const definition = protoLoader.loadSync(proto, { keepCase: false, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { longlink: { v1: { Streams: { service: grpc.ServiceDefinition } } } };
  // The server may send as much as it likes: the client's limit is what is under test.
  const server = new grpc.Server({ 'grpc.max_send_message_length': -1 });
  let calls = 0;
  server.addService(pkg.longlink.v1.Streams.service, {
    Subscribe: (call: GrpcCall) => {
      call.on('error', () => undefined);
      onSubscribe(call, ++calls);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { url: `127.0.0.1:${port}`, close: async () => server.forceShutdown() };
}

/** Ends a gRPC call with `status` and the protocol's trailers. */
export function grpcFail(call: GrpcCall, status: grpc.status, trailers: Record<string, string> = {}): void {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  call.emit('error', { code: status, details: 'hostile', metadata });
}

export { grpc };
