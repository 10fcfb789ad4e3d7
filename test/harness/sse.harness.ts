import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamicModule, INestApplication, LoggerService, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { EventSource } from 'eventsource';
import { SubscriptionRecorder, type ClientSubscription, type StreamEnd, type SubscribeOptions, type TransportHarness } from './harness.js';

export type HttpPlatform = 'express' | 'fastify';

let testLogger: LoggerService | false = false;

/** Apps created from now on log to `logger` (default: no logging). Used to capture logs in tests. */
export function setTestLogger(logger: LoggerService | false): void {
  testLogger = logger;
}

/** Creates a Nest app on Express or Fastify, listening on 127.0.0.1, a random port. */
export async function createHttpApp(
  platform: HttpPlatform,
  module: Type<unknown> | DynamicModule,
  configure?: (app: INestApplication) => void,
): Promise<{ app: INestApplication; baseUrl: string }> {
  const options = { logger: testLogger, forceCloseConnections: true };
  const app = platform === 'fastify' ? await NestFactory.create(module, new FastifyAdapter(), options) : await NestFactory.create(module, options);
  configure?.(app);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as HttpServer).address() as AddressInfo;
  return { app, baseUrl: `http://127.0.0.1:${port}` };
}

/** The URL of a stream with its params in the query string (objects/arrays as `params` JSON). */
export function streamUrl(baseUrl: string, stream: string, params: Record<string, unknown> = {}): string {
  const url = new URL(`/${stream}`, baseUrl);
  const nested: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && typeof value === 'object') nested[key] = value;
    else url.searchParams.set(key, String(value));
  }
  if (Object.keys(nested).length) url.searchParams.set('params', JSON.stringify(nested));
  return url.toString();
}

/** SSE over Express or Fastify, with the `eventsource` client. */
export class SseHarness implements TransportHarness {
  readonly transport = 'sse' as const;
  readonly label: string;
  readonly moduleOptions = {};
  private started: { app: INestApplication; baseUrl: string } | undefined;
  private readonly open = new Set<EventSource>();

  constructor(private readonly platform: HttpPlatform = 'express') {
    this.label = `sse/${platform}`;
  }

  get app(): INestApplication {
    if (!this.started) throw new Error('harness not started');
    return this.started.app;
  }

  get baseUrl(): string {
    if (!this.started) throw new Error('harness not started');
    return this.started.baseUrl;
  }

  async start(module: Type<unknown> | DynamicModule, configure?: (app: INestApplication) => void): Promise<void> {
    this.started = await createHttpApp(this.platform, module, configure);
  }

  subscribe(stream: string, options: SubscribeOptions = {}): ClientSubscription {
    const recorder = new SubscriptionRecorder();
    let refusal: { status: number; body: string } | undefined;
    const headers = { ...options.headers, ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}) };
    const es = new EventSource(streamUrl(this.baseUrl, stream, options.params), {
      fetch: async (input, init) => {
        const response = await fetch(input, { ...init, headers: { ...(init?.headers ?? {}), ...headers } });
        if (response.status !== 200) refusal = { status: response.status, body: await response.clone().text() };
        return response;
      },
    });
    this.open.add(es);
    const finish = (end: StreamEnd) => {
      es.close();
      this.open.delete(es);
      recorder.finish(end);
    };
    es.onmessage = (e) => recorder.event({ id: e.lastEventId === '' ? undefined : e.lastEventId, data: JSON.parse(e.data as string) as unknown });
    es.addEventListener('reset', (e) =>
      recorder.event({ id: e.lastEventId === '' ? undefined : e.lastEventId, data: JSON.parse(e.data as string) as unknown, reset: true }),
    );
    es.addEventListener('complete', () => finish({ kind: 'complete' }));
    es.addEventListener('error', (e) => {
      const data = (e as MessageEvent<unknown>).data;
      if (typeof data === 'string') {
        const body = JSON.parse(data) as { code: string; message: string; details?: unknown };
        return finish({ kind: 'error', ...body });
      }
      if (refusal) {
        if (refusal.status === 204) return finish({ kind: 'complete' });
        const body = JSON.parse(refusal.body) as { code: string; message: string; details?: unknown };
        return finish({ kind: 'error', ...body, native: refusal.status });
      }
      // The response ended without `complete`/`error`: the client would reconnect.
      finish({ kind: 'closed', reason: (e as { message?: string }).message });
    });
    return recorder.subscription(() => {
      es.close();
      this.open.delete(es);
    });
  }

  async stop(): Promise<void> {
    for (const es of this.open) es.close();
    this.open.clear();
    await this.started?.app.close();
    this.started = undefined;
  }
}
