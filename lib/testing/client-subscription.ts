import type { INestApplication } from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { createClient, type ClientOptions, type LonglinkClient } from '../client/index.js';
import type { StreamRegistry } from '../core/stream-registry.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import type { TransportName } from '../protocol/transport-name.js';
import { GrpcTransport } from '../transports/grpc/grpc.transport.js';
import type { StreamRecorder } from './stream-recorder.js';

/** Where the app serves its streams, for the client: learnt once per tester. */
export interface ServedAt {
  url: string;
  wsPath: string | undefined;
  grpcUrl: string | undefined;
  postStreams: string[];
}

/**
 * Where a test app serves its streams; listens on 127.0.0.1, port 0, when it is not listening
 * yet. Fails with a clear message when the transport asked for is off.
 */
export async function servedAt(
  app: INestApplication,
  transport: TransportName,
  options: ResolvedLonglinkOptions,
  registry: StreamRegistry,
): Promise<ServedAt> {
  const server = app.getHttpServer() as { listening?: boolean; address(): AddressInfo | string | null };
  if (!server.listening) await app.listen(0, '127.0.0.1');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('StreamTester: the app does not listen on a TCP port');
  const prefix = app
    .get(ApplicationConfig)
    .getGlobalPrefix()
    .replace(/^\/+|\/+$/g, '');
  const url = `http://127.0.0.1:${address.port}${prefix ? `/${prefix}` : ''}`;
  if (transport === 'ws' && !options.ws) throw new Error('StreamTester: transport "ws" asked for, but LonglinkModule has ws off');
  if (transport === 'grpc' && !options.grpc) throw new Error('StreamTester: transport "grpc" asked for, but LonglinkModule has grpc off');
  return {
    url,
    wsPath: options.ws?.path,
    grpcUrl: options.grpc ? `127.0.0.1:${app.get(GrpcTransport).port}` : undefined,
    postStreams: registry
      .all()
      .filter((d) => d.options.sse?.method === 'POST')
      .map((d) => d.name),
  };
}

/**
 * One test subscription over a real transport, through the package's own client: its own
 * client (headers and init payload are per client), no reconnect (the first error ends it, so
 * a test sees it), `onOpen` as the "server holds it" signal.
 */
export function subscribeOverClient(
  at: ServedAt,
  transport: TransportName,
  name: string,
  params: Record<string, unknown>,
  recorder: StreamRecorder,
  opened: () => void,
  options: { headers?: Record<string, string | string[] | undefined>; lastEventId?: string; connectionParams?: unknown },
): LonglinkClient {
  const headers = Object.fromEntries(
    Object.entries(options.headers ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]])),
  );
  const clientOptions: ClientOptions = {
    url: at.url,
    transport,
    ...(at.wsPath !== undefined ? { wsPath: at.wsPath } : {}),
    ...(at.grpcUrl !== undefined ? { grpcUrl: at.grpcUrl } : {}),
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(options.connectionParams !== undefined ? { connectionParams: options.connectionParams } : {}),
    sse: { post: at.postStreams },
    retry: { maxAttempts: 0 },
  };
  const client = createClient(clientOptions);
  client.events(name, params, { lastEventId: options.lastEventId, onOpen: opened }).subscribe({
    next: (e) => recorder.push(e.type === 'next' ? { type: 'next', id: e.id, data: e.data } : { type: 'reset', id: e.id, reason: e.reason }),
    error: (e: Error & { code?: string; details?: unknown }) => {
      recorder.end({ code: e.code ?? 'INTERNAL', message: e.message ?? String(e), ...(e.details !== undefined ? { details: e.details } : {}) });
      opened();
    },
    complete: () => {
      recorder.end();
      opened();
    },
  });
  return client;
}
