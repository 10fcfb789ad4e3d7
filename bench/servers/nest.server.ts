import type { Server as HttpServer } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Controller, Injectable, Module, Sse, type INestApplication, type MessageEvent } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GrpcMethod, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway, type WsResponse } from '@nestjs/websockets';
import { concat, map, NEVER, of, Subject, type Observable } from 'rxjs';
import { benchValue } from '../bench.protocol.js';
import { BENCH_PROTO, type BenchServer } from './bench-server.interface.js';

/** One published value, serialised once for the transports that can take a string or bytes. */
interface Published {
  value: object;
  json: string;
  bytes: Buffer;
}

/** The broadcast source every Nest built-in handler subscribes to. */
@Injectable()
class Source {
  readonly subject = new Subject<Published>();
}

function hello(): Published {
  const value = benchValue(0);
  const json = JSON.stringify(value);
  return { value, json, bytes: Buffer.from(json) };
}

/** Nest's own `@Sse`: each subscriber's Observable of `MessageEvent`s (data pre-serialised). */
@Controller('nest-sse')
class NestSseController {
  constructor(private readonly source: Source) {}

  @Sse('topic')
  topic(): Observable<MessageEvent> {
    return this.source.subject.pipe(map((p) => ({ data: p.json })));
  }

  @Sse('hello')
  hello(): Observable<MessageEvent> {
    return concat(of({ data: hello().json }), NEVER);
  }
}

/** A stock `@WebSocketGateway` on `@nestjs/platform-ws`: the handler returns an Observable of `WsResponse`. */
@WebSocketGateway({ path: '/nest-ws' })
class NestGateway {
  constructor(private readonly source: Source) {}

  @SubscribeMessage('subscribe')
  subscribe(@MessageBody() body: { hello?: boolean } | undefined): Observable<WsResponse<object>> {
    if (body?.hello) return concat(of({ event: 'next', data: hello().value }), NEVER);
    return this.source.subject.pipe(map((p) => ({ event: 'next', data: p.value })));
  }
}

/** A `@GrpcMethod` returning an Observable, served by Nest's gRPC microservice. */
@Controller()
class NestGrpcController {
  constructor(private readonly source: Source) {}

  @GrpcMethod('Bench', 'Subscribe')
  subscribe(request: { hello?: boolean }): Observable<{ data: Buffer }> {
    if (request.hello) return concat(of({ data: hello().bytes }), NEVER);
    return this.source.subject.pipe(map((p) => ({ data: p.bytes })));
  }
}

@Module({ controllers: [NestSseController, NestGrpcController], providers: [Source, NestGateway] })
class NestBenchModule {}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Nest's built-ins on Express: `@Sse`, a stock `@WebSocketGateway` and `@GrpcMethod`. */
export class NestServer implements BenchServer {
  private app?: INestApplication;
  private source?: Source;

  async start(): Promise<{ http: number; grpc: number }> {
    const app = await NestFactory.create(NestBenchModule, { logger: ['error'] });
    app.useWebSocketAdapter(new WsAdapter(app));
    const grpcPort = await freePort();
    app.connectMicroservice<MicroserviceOptions>({
      transport: Transport.GRPC,
      options: { package: 'bench.v1', protoPath: BENCH_PROTO, url: `127.0.0.1:${grpcPort}` },
    });
    await app.startAllMicroservices();
    await app.listen(0, '127.0.0.1');
    this.app = app;
    this.source = app.get(Source);
    return { http: ((app.getHttpServer() as HttpServer).address() as AddressInfo).port, grpc: grpcPort };
  }

  publish(value: object): void {
    const json = JSON.stringify(value);
    this.source!.subject.next({ value, json, bytes: Buffer.from(json) });
  }

  /** Not served here: the per-subscriber-handler scenario compares the module with raw. */
  emitOwn(): void {}

  subscriptions(): number {
    return this.source!.subject.observers.length;
  }

  async close(): Promise<void> {
    await this.app?.close();
  }
}
