import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { concat, NEVER, Observable, of, type Subscriber } from 'rxjs';
import {
  GrpcTransport,
  LastEventId,
  LonglinkMetrics,
  LonglinkModule,
  Stream,
  StreamHub,
  StreamTracker,
  type LonglinkModuleOptions,
} from '../../lib/index.js';
import { BENCH_TOPIC, benchValue } from '../bench.protocol.js';
import type { BenchServer } from './bench-server.interface.js';

/**
 * The module's streams: `bench/topic` (the hub topic), `bench/resume` (the same, resumable),
 * `bench/own` (a handler that gives each subscription its own Observable, no hub: as LLM token
 * streams and per-user feeds do) and `bench/hello`.
 */
@Controller('bench')
class BenchStreams {
  /** The live `bench/own` subscriptions. */
  readonly owners = new Set<Subscriber<unknown>>();

  constructor(private readonly hub: StreamHub) {}

  @Stream('own')
  own(): Observable<unknown> {
    return new Observable<unknown>((subscriber) => {
      this.owners.add(subscriber);
      return () => this.owners.delete(subscriber);
    });
  }

  @Stream('topic')
  topic(): Observable<unknown> {
    return this.hub.stream(BENCH_TOPIC);
  }

  /** The same topic, resumable: the `redis` scenario's resume probes (`topic` stays the plain handler the other scenarios measure). */
  @Stream('resume')
  resume(@LastEventId() lastEventId?: string): Observable<unknown> {
    return this.hub.stream(BENCH_TOPIC, { lastEventId });
  }

  @Stream('hello')
  hello(): Observable<unknown> {
    return concat(of(benchValue(0)), NEVER);
  }
}

/**
 * nestjs-longlink on Express, all three transports from the same handlers, publishing through
 * the in-memory hub. Options are the defaults but for the SSE heartbeat (off, so that every
 * frame a client counts is a value) and `extra` (the slow-consumer run's limits).
 */
export class ModuleServer implements BenchServer {
  private app?: INestApplication;
  private hub?: StreamHub;
  private streams?: BenchStreams;

  constructor(private readonly extra: Partial<LonglinkModuleOptions> = {}) {}

  async start(): Promise<{ http: number; grpc: number }> {
    @Module({
      imports: [LonglinkModule.forRoot({ sse: { heartbeatMs: 0 }, ws: true, grpc: { url: '127.0.0.1:0' }, ...this.extra })],
      controllers: [BenchStreams],
    })
    class ModuleBenchApp {}

    const app = await NestFactory.create(ModuleBenchApp, { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    this.app = app;
    this.hub = app.get(StreamHub);
    this.streams = app.get(BenchStreams);
    return { http: ((app.getHttpServer() as HttpServer).address() as AddressInfo).port, grpc: app.get(GrpcTransport).port };
  }

  publish(value: object): void {
    this.hub!.publish(BENCH_TOPIC, value).catch((error: unknown) => {
      process.send?.({ type: 'error', message: `publish: ${String(error)}` });
    });
  }

  emitOwn(make: () => object): void {
    for (const subscriber of this.streams!.owners) subscriber.next(make());
  }

  subscriptions(): number {
    return this.app!.get(StreamTracker).size;
  }

  /** Whether the module's OpenTelemetry instruments are recording (an SDK was found). */
  metricsEnabled(): boolean {
    return this.app!.get(LonglinkMetrics).enabled;
  }

  async close(): Promise<void> {
    await this.app?.close();
  }
}
