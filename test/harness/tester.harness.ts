import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { StreamTester } from '../../lib/testing/index.js';
import { SubscriptionRecorder, type ClientSubscription, type SubscribeOptions, type TransportHarness } from './harness.js';
import { createHttpApp } from './sse.harness.js';

/**
 * The conformance cases driven through the package's own testing kit (`nestjs-longlink/testing`),
 * in process: the full pipeline with no socket, `call.transport` reporting `'sse'`. It shows
 * that what the kit gives a user's test is what a real client gets.
 */
export class TesterHarness implements TransportHarness {
  readonly transport = 'sse' as const;
  readonly label = 'testing kit, in process';
  readonly moduleOptions = {};
  private started: { app: INestApplication; tester: StreamTester } | undefined;

  get app(): INestApplication {
    if (!this.started) throw new Error('harness not started');
    return this.started.app;
  }

  async start(module: Type<unknown> | DynamicModule, configure?: (app: INestApplication) => void): Promise<void> {
    const { app } = await createHttpApp('express', module, configure);
    this.started = { app, tester: await StreamTester.create(app, { as: 'sse' }) };
  }

  subscribe(stream: string, options: SubscribeOptions = {}): ClientSubscription {
    const recorder = new SubscriptionRecorder();
    const cancel = new AbortController();
    void this.started!.tester.subscribe(stream, options.params ?? {}, {
      signal: cancel.signal,
      headers: options.headers,
      lastEventId: options.lastEventId,
      timeoutMs: 60_000,
      onEvent: (e) => recorder.event(e.type === 'next' ? { id: e.id, data: e.data } : { id: e.id, data: { reason: e.reason }, reset: true }),
      onEnd: (ended) =>
        recorder.finish(ended === null ? { kind: 'complete' } : { kind: 'error', code: ended.code, message: ended.message, details: ended.details }),
    });
    return recorder.subscription(() => cancel.abort());
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    await this.started.tester.close();
    await this.started.app.close();
    this.started = undefined;
  }
}
