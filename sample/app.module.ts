import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Module } from '@nestjs/common';
import { LonglinkAsyncApiModule, LonglinkModule } from '../lib/index.js';
import { DemoModule } from './demo/demo.module.js';
import { OpsModule } from './ops/ops.module.js';
import { PageController } from './page.controller.js';

/** A file of the repository's `proto/`, from sample/ (source) or dist/sample/ (built). */
function protoFile(path: string): string {
  const candidates = [`../proto/${path}`, `../../proto/${path}`].map((c) => fileURLToPath(new URL(c, import.meta.url)));
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

/** A file of `sample/generated/` (written by `npm run generate:sample`), from sample/ (source) or dist/sample/ (built). */
function generatedFile(name: string): string {
  const candidates = [`./generated/${name}`, `../../sample/generated/${name}`].map((c) => fileURLToPath(new URL(c, import.meta.url)));
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

/**
 * The hub's Redis from the env: REDIS_URL, or Sentinel with REDIS_SENTINELS (`host:port,...`)
 * and REDIS_SENTINEL_NAME (the master group, default `mymaster`).
 */
function redisFromEnv(): string | Record<string, unknown> | undefined {
  const sentinels = process.env.REDIS_SENTINELS;
  if (sentinels) {
    return {
      sentinels: sentinels.split(',').map((address) => {
        const colon = address.lastIndexOf(':');
        return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
      }),
      name: process.env.REDIS_SENTINEL_NAME || 'mymaster',
    };
  }
  // REDIS_CLUSTER_NODES=host:port,host:port: a Redis Cluster.
  if (process.env.REDIS_CLUSTER_NODES) return { cluster: { nodes: process.env.REDIS_CLUSTER_NODES.split(',') } };
  return process.env.REDIS_URL || undefined;
}

/**
 * The sample application: the demo streams over SSE (`GET /demo/...`), WebSocket
 * (`ws://HOST:PORT/ws`) and gRPC (`GRPC_PORT`, default 50051: `longlink.v1.Streams` and the
 * typed `sample.v1.Demo`), a live page at `/`, and the generated AsyncAPI document at
 * `/asyncapi.json`. Env is read when the app starts; with REDIS_URL (or REDIS_SENTINELS, or
 * REDIS_CLUSTER_NODES, comma-separated `host:port` of a Redis Cluster) the hub (demo/chat) runs
 * on Redis, shared by several instances; SHUTDOWN_SPREAD_MS / SHUTDOWN_DRAIN_MS set the
 * deploy hand-over (`shutdown` options).
 */
@Module({
  imports: [
    LonglinkModule.forRootAsync({
      isGlobal: true, // DemoModule injects StreamHub
      useFactory: () => ({
        sse: { heartbeatMs: 15_000 },
        ws: { path: '/ws' },
        grpc: {
          url: `${process.env.HOST || '127.0.0.1'}:${process.env.GRPC_PORT ?? '50051'}`,
          protoPath: protoFile('sample/v1/demo.proto'),
          package: 'sample.v1',
          // With Redis: gRPC health NOT_SERVING while the hub's Redis connection is lost.
          healthFollowsHub: redisFromEnv() !== undefined,
        },
        // REDIS_URL or REDIS_SENTINELS set: chat rooms are shared by every instance on that Redis.
        hub: {
          ...(redisFromEnv() ? { redis: redisFromEnv() } : {}),
          ...(process.env.REDIS_WAIT_REPLICAS ? { redisWaitReplicas: Number(process.env.REDIS_WAIT_REPLICAS) } : {}),
          // Presence in chat rooms: TTL (Redis) and grace window, from the env when set.
          presence: {
            ...(process.env.PRESENCE_TTL_MS ? { ttlMs: Number(process.env.PRESENCE_TTL_MS) } : {}),
            graceMs: process.env.PRESENCE_GRACE_MS ? Number(process.env.PRESENCE_GRACE_MS) : 2000,
          },
        },
        // Deploy hand-over: clients are told to come back spread over SHUTDOWN_SPREAD_MS (default 5 s).
        shutdown: {
          ...(process.env.SHUTDOWN_SPREAD_MS ? { spreadMs: Number(process.env.SHUTDOWN_SPREAD_MS) } : {}),
          ...(process.env.SHUTDOWN_DRAIN_MS ? { drainMs: Number(process.env.SHUTDOWN_DRAIN_MS) } : {}),
        },
      }),
    }),
    DemoModule,
    OpsModule,
    LonglinkAsyncApiModule.forRoot({ document: generatedFile('asyncapi.json') }),
  ],
  controllers: [PageController],
})
export class AppModule {}
