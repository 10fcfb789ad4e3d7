import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { RawServer } from './raw.server.js';

/** The raw baseline's Pub/Sub channel. */
export const RAW_REDIS_CHANNEL = 'bench:raw';

/** ioredis as the module loads it (5.0.0 has no named `Redis`). */
function ioredis(): new (url: string, options?: object) => Redis {
  const module = createRequire(import.meta.url)('ioredis') as { default?: unknown };
  return (module.default ?? module) as new (url: string, options?: object) => Redis;
}

/**
 * The raw Redis fan-out a user without the module would write: the raw servers' subscriber
 * sets, fed by one `ioredis` subscriber connection on one channel; a publish is one `PUBLISH`
 * of the serialised value, which every instance's subscriber receives and writes to its
 * subscribers. No history, no resume, no ordering checks: the floor the module's hub is
 * measured against. `BENCH_REDIS` is the Redis URL.
 */
export class RawRedisServer extends RawServer {
  private pub?: Redis;
  private sub?: Redis;

  override async start(): Promise<{ http: number; grpc: number }> {
    const url = process.env.BENCH_REDIS;
    if (!url) throw new Error('raw-redis: BENCH_REDIS (a redis:// URL) is not set');
    const IORedis = ioredis();
    this.pub = new IORedis(url);
    this.sub = new IORedis(url);
    this.sub.on('message', (_channel: string, json: string) => this.broadcast(json));
    await this.sub.subscribe(RAW_REDIS_CHANNEL);
    return super.start();
  }

  override publish(value: object): void {
    this.pub!.publish(RAW_REDIS_CHANNEL, JSON.stringify(value)).catch((error: unknown) => {
      process.send?.({ type: 'error', message: `publish: ${String(error)}` });
    });
  }

  override async close(): Promise<void> {
    this.pub?.disconnect();
    this.sub?.disconnect();
    await super.close();
  }
}
