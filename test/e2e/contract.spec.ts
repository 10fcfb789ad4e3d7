import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Module, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { firstValueFrom, range, map, toArray, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, type ClientOptions } from '../../lib/client/index.js';
import { GrpcTransport, LonglinkModule, Stream, StreamParams, tracked, type StreamEvent } from '../../lib/index.js';
import {
  countStream,
  echoStream,
  misplacedStream,
  type CountEvent,
  type CountParams,
  type EchoParams,
} from '../fixtures/contract/streams.contract.js';
import { within } from '../harness/util.js';

@Controller('typed')
class TypedController {
  @Stream(countStream)
  count(@StreamParams() p: CountParams): Observable<StreamEvent<CountEvent>> {
    const label = p.label ?? 'none';
    return range(0, Number(p.count ?? 3)).pipe(map((n) => tracked(n, { n, label })));
  }

  @Stream(echoStream)
  echo(@StreamParams() p: EchoParams): Observable<{ text: string }> {
    return range(0, 1).pipe(map(() => ({ text: p.text })));
  }
}

@Controller('wrong-place')
class MisplacedController {
  @Stream(misplacedStream)
  misplaced(): Observable<number> {
    return range(0, 1);
  }
}

async function start(controllers: Type[]): Promise<{ app: INestApplication; url: string; grpcPort: number }> {
  @Module({
    imports: [LonglinkModule.forRoot({ ws: { path: '/ws' }, grpc: { url: '127.0.0.1:0' } })],
    controllers,
  })
  class TypedModule {}
  const app = await NestFactory.create(TypedModule, { logger: false, forceCloseConnections: true });
  try {
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close();
    throw error;
  }
  const { port } = (app.getHttpServer() as HttpServer).address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, grpcPort: app.get(GrpcTransport).port };
}

describe('typed contracts (defineStream + @Stream(contract) + client.stream(contract))', () => {
  let server: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    server = await start([TypedController]);
  });
  afterAll(async () => {
    await server.app.close();
  });

  const kinds: Record<string, () => ClientOptions> = {
    ws: () => ({ url: server.url, transport: 'ws', WebSocket }),
    sse: () => ({ url: server.url, transport: 'sse' }),
    grpc: () => ({ url: server.url, transport: 'grpc', grpcUrl: `127.0.0.1:${server.grpcPort}` }),
  };

  it.each(Object.keys(kinds))('a contract-bound stream serves its contract name over %s', async (kind) => {
    const client = createClient({ retry: { initialMs: 20, maxMs: 200 }, ...kinds[kind]!() });
    try {
      const values = await within(firstValueFrom(client.stream(countStream, { count: 3, label: kind }).pipe(toArray())), 10_000, 'count');
      expect(values).toEqual([0, 1, 2].map((n) => ({ n, label: kind })));
      const echoed = await within(firstValueFrom(client.stream(echoStream, { text: `héllo ${kind}` }).pipe(toArray())), 10_000, 'echo');
      expect(echoed).toEqual([{ text: `héllo ${kind}` }]);
    } finally {
      await client.close();
    }
  });

  it('a contract bound where its full name does not match fails startup, naming both', async () => {
    await expect(start([MisplacedController])).rejects.toThrow(
      /MisplacedController\.misplaced is bound to the contract "elsewhere\/misplaced".*"wrong-place\/misplaced".*@Controller\("elsewhere"\)/,
    );
  });
});
