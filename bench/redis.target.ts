/**
 * The Redis the `redis` scenario runs on, and its machine-independent cost: `INFO commandstats`
 * (commands run inside scripts included), summed over the target's nodes.
 *
 * A target is a single `redis-server` of the bench's own (no persistence, a free port), or an
 * external one given with `BENCH_REDIS_URL`. A cluster target (3 masters) plugs in here: it
 * implements {@link RedisTarget} with `hubRedis` set to the cluster option `hub.redis` takes and
 * `nodes` listing every master, and is added to {@link startRedisTargets} (the bench's build
 * includes `lib/`, `sample/` and `bench/`, not `test/`: a starter from `test/harness/` is
 * either moved beside this file or run from the target's `start`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { Redis } from 'ioredis';

/** One Redis deployment the scenario runs on. */
export interface RedisTarget {
  /** `single`, or e.g. `cluster` (in the report's tables). */
  readonly kind: string;
  /** What the module's `hub.redis` gets (a URL, or ioredis options): `BENCH_REDIS` in the server processes, as JSON when an object. */
  readonly hubRedis: string | Record<string, unknown>;
  /** The raw baseline's Redis URL (its servers use one ioredis client per role). */
  readonly rawUrl: string;
  /** Every node whose commands count (a cluster: every master). */
  readonly nodes: Redis[];
  stop(): Promise<void>;
}

/** ioredis as the module loads it (5.0.0 has no named `Redis`). */
export function ioredisClass(): new (url: string, options?: object) => Redis {
  const module = createRequire(import.meta.url)('ioredis') as { default?: unknown };
  return (module.default ?? module) as new (url: string, options?: object) => Redis;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A redis-server of the bench's own, or `BENCH_REDIS_URL`. */
export async function startSingleRedis(): Promise<RedisTarget> {
  const IORedis = ioredisClass();
  const external = process.env.BENCH_REDIS_URL;
  let child: ChildProcess | undefined;
  let url = external;
  if (!url) {
    const port = await freePort();
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      });
      child!.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
      child!.once('error', (error) => reject(new Error(`redis-server could not start (${error.message}); is it installed?`)));
    });
    url = `redis://127.0.0.1:${port}`;
  }
  const admin = new IORedis(url);
  return {
    kind: 'single',
    hubRedis: url,
    rawUrl: url,
    nodes: [admin],
    async stop() {
      admin.disconnect();
      child?.kill('SIGKILL');
    },
  };
}

/**
 * The targets of this run. A cluster target is added here (see the file's comment); until
 * then the scenario runs on a single Redis.
 */
export async function startRedisTargets(): Promise<RedisTarget[]> {
  return [await startSingleRedis()];
}

/** Commands this bench's own admin connection runs: not counted. */
const OWN = new Set(['info', 'config|resetstat', 'config']);

/** Zeroes every node's command statistics. */
export async function resetCommandStats(target: RedisTarget): Promise<void> {
  await Promise.all(target.nodes.map((n) => n.config('RESETSTAT')));
}

/** Calls per command since the last reset, summed over the nodes (the bench's own commands left out). */
export async function commandStats(target: RedisTarget): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const node of target.nodes) {
    const text = await node.info('commandstats');
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      const name = match[1]!;
      if (OWN.has(name)) continue;
      counts.set(name, (counts.get(name) ?? 0) + Number(match[2]));
    }
  }
  return counts;
}

/** All calls in `counts`. */
export function sum(counts: Map<string, number>): number {
  let total = 0;
  for (const n of counts.values()) total += n;
  return total;
}
