import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Controller,
  Injectable,
  Module,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Observable, map, of } from 'rxjs';
import {
  GrpcTransport,
  LonglinkModule,
  Stream,
  StreamContext,
  StreamInput,
  getStreamCall,
  tracked,
  type LonglinkModuleOptions,
  type StreamCall,
  type StreamEvent,
} from '../../lib/index.js';
import { DEMO_PROTO } from '../harness/grpc.harness.js';
import { DemoModule } from '../../sample/demo/demo.module.js';
import { DuplexModule } from '../fixtures/duplex.js';

/**
 * What `client/tally` handed to its handler, in order, across server restarts (module state):
 * the `key` of each client message. Exactly once means each key once, in the order sent.
 */
export const tallied: string[] = [];

/** Tickets the SSE guard has seen, in order (`client/ticketed`). */
export const seenTickets: string[] = [];

/** Accepts `?ticket=t-<n>` only, each once (a stand-in for the ticket guard of the SSE engineer). */
@Injectable()
class TicketGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const call = getStreamCall(context)!;
    const raw = call.raw as { url?: string; originalUrl?: string };
    const ticket = new URL(raw.originalUrl ?? raw.url ?? '/', 'http://x').searchParams.get('ticket');
    if (!ticket || !/^t-\d+$/.test(ticket) || seenTickets.includes(ticket)) throw new UnauthorizedException('ticket required');
    seenTickets.push(ticket);
    return true;
  }
}

/** Wants `connectionParams.token === 'good'` (WS init payload). */
@Injectable()
class InitTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const params = getStreamCall(context)?.connectionParams as { token?: string } | undefined;
    if (params?.token !== 'good') throw new UnauthorizedException('token required');
    return true;
  }
}

@Controller('client')
class ClientTestController {
  /** Echoes what the server saw of the connection. */
  @Stream('whoami')
  whoami(@StreamContext() call: StreamCall): Observable<StreamEvent<unknown>> {
    return of(tracked('1', { connectionParams: call.connectionParams ?? null, authorization: call.headers.authorization ?? null }));
  }

  @Stream('init-guarded')
  @UseGuards(InitTokenGuard)
  initGuarded(): Observable<StreamEvent<unknown>> {
    return of(tracked('1', { ok: true }));
  }

  /** Two-way: records each message's `key` in `tallied`, and echoes it. */
  @Stream('tally', { input: true })
  tally(@StreamInput() input$: Observable<{ key: string }>): Observable<{ got: string }> {
    return input$.pipe(map(({ key }) => (tallied.push(key), { got: key })));
  }

  /** Long-lived: one value per 25 ms, ids count up, resumable. */
  @Stream('ticketed', { transports: ['sse'] })
  @UseGuards(TicketGuard)
  ticketed(@StreamContext() call: StreamCall): Observable<StreamEvent<{ n: number }>> {
    let n = call.lastEventId === undefined ? 0 : Number(call.lastEventId) + 1;
    return new Observable((subscriber) => {
      const timer = setInterval(() => subscriber.next(tracked(String(n), { n: n++ })), 25);
      return () => clearInterval(timer);
    });
  }
}

export interface TestServer {
  app: INestApplication;
  port: number;
  grpcPort: number;
  url: string;
  close(): Promise<void>;
}

/** The demo streams plus the client test streams, over SSE, WS and gRPC, on 127.0.0.1. */
export async function startServer(
  options: {
    port?: number;
    grpcPort?: number;
    ws?: LonglinkModuleOptions['ws'];
    sse?: LonglinkModuleOptions['sse'];
    hub?: LonglinkModuleOptions['hub'];
    input?: LonglinkModuleOptions['input'];
  } = {},
): Promise<TestServer> {
  @Module({
    imports: [
      LonglinkModule.forRoot({
        isGlobal: true,
        ws: options.ws ?? { path: '/ws' },
        sse: options.sse ?? { retryMs: 50 },
        grpc: { url: `127.0.0.1:${options.grpcPort ?? 0}`, protoPath: DEMO_PROTO, package: 'sample.v1' },
        ...(options.hub && { hub: options.hub }),
        ...(options.input && { input: options.input }),
      }),
      DemoModule,
      DuplexModule,
    ],
    controllers: [ClientTestController],
    providers: [TicketGuard, InitTokenGuard],
  })
  class ClientTestModule {}
  const app = await NestFactory.create(ClientTestModule, { logger: false, forceCloseConnections: true });
  await app.listen(options.port ?? 0, '127.0.0.1');
  const { port } = (app.getHttpServer() as HttpServer).address() as AddressInfo;
  return {
    app,
    port,
    grpcPort: app.get(GrpcTransport).port,
    url: `http://127.0.0.1:${port}`,
    close: () => app.close(),
  };
}
