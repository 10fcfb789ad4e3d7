import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import WebSocket from 'ws';
import type { LonglinkModuleOptions } from '../../lib/index.js';
import { SubscriptionRecorder, type ClientSubscription, type SubscribeOptions, type TransportHarness } from './harness.js';
import { createHttpApp, type HttpPlatform } from './sse.harness.js';
import { deferred, wsText } from './util.js';

/** A server message as PROTOCOL.md §4 defines it. */
export interface WsServerMessage {
  type: 'next' | 'complete' | 'error' | 'pong' | 'reset';
  id?: string;
  eventId?: string;
  data?: unknown;
  error?: { code: string; message: string; details?: unknown };
}

/** Opens a raw `ws` client and resolves once it is open. */
export function openWs(url: string, options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, res })));
  });
}

/** A client connection multiplexing subscriptions, as a library client would. */
class WsClient {
  private readonly handlers = new Map<string, (m: WsServerMessage) => void>();
  readonly closed = deferred<{ code: number; reason: string }>();
  readonly unmatched: WsServerMessage[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const message = JSON.parse(wsText(raw)) as WsServerMessage;
      const handler = message.id === undefined ? undefined : this.handlers.get(message.id);
      if (handler) handler(message);
      else this.unmatched.push(message);
    });
    ws.on('close', (code, reason) => {
      this.closed.resolve({ code, reason: String(reason) });
      for (const handler of [...this.handlers.values()]) handler({ type: 'error', error: { code: 'CLOSED', message: `closed ${code}` } });
    });
    ws.on('error', () => undefined);
  }

  on(id: string, handler: (m: WsServerMessage) => void): void {
    this.handlers.set(id, handler);
  }

  off(id: string): void {
    this.handlers.delete(id);
  }

  send(message: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }
}

/** WebSocket transport with the `ws` client; one connection per distinct header set. */
export class WsHarness implements TransportHarness {
  readonly transport = 'ws' as const;
  readonly label: string;
  readonly moduleOptions: LonglinkModuleOptions = { ws: { path: '/ws' } };
  private started: { app: INestApplication; baseUrl: string } | undefined;
  private readonly clients = new Map<string, Promise<WsClient>>();
  private nextId = 0;

  constructor(private readonly platform: HttpPlatform = 'express') {
    this.label = `ws/${platform}`;
  }

  get app(): INestApplication {
    if (!this.started) throw new Error('harness not started');
    return this.started.app;
  }

  get url(): string {
    if (!this.started) throw new Error('harness not started');
    return `${this.started.baseUrl.replace('http', 'ws')}/ws`;
  }

  async start(module: Type<unknown> | DynamicModule, configure?: (app: INestApplication) => void): Promise<void> {
    this.started = await createHttpApp(this.platform, module, configure);
  }

  private client(headers: Record<string, string>): Promise<WsClient> {
    const key = JSON.stringify(headers);
    let client = this.clients.get(key);
    if (!client) {
      client = openWs(this.url, { headers }).then((ws) => new WsClient(ws));
      this.clients.set(key, client);
    }
    return client;
  }

  subscribe(stream: string, options: SubscribeOptions = {}): ClientSubscription {
    const id = `s${++this.nextId}`;
    const recorder = new SubscriptionRecorder();
    let client: WsClient | undefined;
    let cancelled = false;
    void this.client(options.headers ?? {}).then(
      (c) => {
        client = c;
        if (cancelled) return;
        c.on(id, (m) => {
          if (m.type === 'next') return recorder.event({ id: m.eventId, data: m.data });
          if (m.type === 'reset') return recorder.event({ id: m.eventId, data: m.data, reset: true });
          c.off(id);
          if (m.type === 'complete') recorder.finish({ kind: 'complete' });
          else if (m.error?.code === 'CLOSED') recorder.finish({ kind: 'closed', reason: m.error.message });
          else if (m.type === 'error') recorder.finish({ kind: 'error', ...m.error! });
        });
        c.send({ type: 'subscribe', id, stream, params: options.params ?? {}, lastEventId: options.lastEventId });
      },
      (error: Error) => recorder.finish({ kind: 'closed', reason: error.message }),
    );
    return recorder.subscription(() => {
      cancelled = true;
      client?.off(id);
      client?.send({ type: 'unsubscribe', id });
    });
  }

  async stop(): Promise<void> {
    for (const client of this.clients.values())
      void client.then(
        (c) => c.ws.terminate(),
        () => undefined,
      );
    this.clients.clear();
    await this.started?.app.close();
    this.started = undefined;
  }
}
