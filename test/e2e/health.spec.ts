import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, LonglinkHealthIndicator, LonglinkModule, StreamTracker } from '../../lib/index.js';
import { DEMO_PROTO } from '../harness/grpc.harness.js';
import { TestRedis } from '../harness/redis-server.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { until } from '../harness/util.js';
import { DemoModule } from '../../sample/demo/demo.module.js';

@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly longlink: LonglinkHealthIndicator,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.longlink.isHealthy('longlink', { timeoutMs: 500 })]);
  }
}

type HealthClient = grpc.Client & {
  Check(request: { service: string }, callback: (error: grpc.ServiceError | null, reply?: { status: string }) => void): void;
};

function healthClient(port: number): HealthClient {
  const definition = protoLoader.loadSync(healthProtoPath, { enums: String });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } };
  };
  return new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

function check(client: HealthClient, service = ''): Promise<string> {
  return new Promise((resolve, reject) => client.Check({ service }, (error, reply) => (error ? reject(error) : resolve(reply!.status))));
}

describe('health: LonglinkHealthIndicator with @nestjs/terminus, and grpc.health.v1', () => {
  let redis: TestRedis;
  let app: INestApplication;
  let baseUrl: string;
  let grpcHealth: HealthClient;

  beforeAll(async () => {
    redis = await TestRedis.start();
    @Module({
      imports: [
        TerminusModule,
        LonglinkModule.forRoot({
          isGlobal: true,
          ws: true,
          grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1', healthFollowsHub: true },
          hub: { redis: redis.url },
        }),
        DemoModule,
      ],
      controllers: [HealthController],
    })
    class HealthAppModule {}
    ({ app, baseUrl } = await createHttpApp('express', HealthAppModule));
    grpcHealth = healthClient(app.get(GrpcTransport).port);
  }, 30_000);

  afterAll(async () => {
    grpcHealth?.close();
    await app?.close().catch(() => undefined);
    await redis?.stop();
  });

  async function health(): Promise<{
    status: number;
    body: { status: string; details: { longlink: Record<string, unknown> & { hub: { latencyMs?: number; error?: unknown } } } };
  }> {
    const response = await fetch(`${baseUrl}/health`);
    return { status: response.status, body: (await response.json()) as never };
  }

  it('up: every enabled transport serving, Redis reachable with its latency; gRPC SERVING', async () => {
    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    const longlink = body.details.longlink;
    expect(longlink).toMatchObject({
      status: 'up',
      draining: false,
      transports: { sse: 'serving', ws: 'serving', grpc: 'serving' },
      hub: { adapter: 'redis', status: 'up' },
    });
    // Measured (a loopback round trip takes some µs; 0 would mean none was made), within the ping timeout.
    expect(longlink.hub.latencyMs).toBeGreaterThan(0);
    expect(longlink.hub.latencyMs).toBeLessThan(1000);
    expect(await check(grpcHealth)).toBe('SERVING');
    expect(await check(grpcHealth, 'longlink.v1.Streams')).toBe('SERVING');
  });

  it('Redis down: /health 503 with the hub down, gRPC NOT_SERVING (healthFollowsHub); both back when it is', async () => {
    await redis.kill();
    const down = await health();
    expect(down.status).toBe(503);
    expect(down.body.details.longlink).toMatchObject({ status: 'down', hub: { status: 'down' } });
    expect(typeof down.body.details.longlink.hub.error).toBe('string');
    await until(
      () =>
        check(grpcHealth).then(
          (s) => s === 'NOT_SERVING',
          () => false,
        ),
      5000,
      'gRPC health NOT_SERVING',
    );
    await redis.run();
    await until(
      () =>
        health().then(
          (r) => r.status === 200,
          () => false,
        ),
      10_000,
      '/health up again',
    );
    await until(
      () =>
        check(grpcHealth).then(
          (s) => s === 'SERVING',
          () => false,
        ),
      10_000,
      'gRPC health SERVING again',
    );
  }, 30_000);

  it('draining (shutdown started): /health 503 with draining, gRPC NOT_SERVING, transports not serving', async () => {
    app.get(StreamTracker).shutdown(); // what app.close() starts with
    const { status, body } = await health();
    expect(status).toBe(503);
    expect(body.details.longlink).toMatchObject({
      status: 'down',
      draining: true,
      transports: { sse: 'not_serving', ws: 'not_serving', grpc: 'not_serving' },
    });
    expect(await check(grpcHealth)).toBe('NOT_SERVING');
  });
});
