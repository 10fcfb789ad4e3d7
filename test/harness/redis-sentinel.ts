import { createRequire } from 'node:module';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { freePort } from './redis-server.js';
import { deferred, until, within } from './util.js';

/** The master group name the test's sentinels monitor. */
export const SENTINEL_MASTER_NAME = 'mymaster';
/** How long a master may be unreachable before a sentinel considers it down (kept low for tests). */
const DOWN_AFTER_MS = 1000;
const FAILOVER_TIMEOUT_MS = 3000;

/** An ioredis client, loaded as the module loads it (ioredis 5.0.0 has no named `Redis`). */
export function redisClient(port: number): Redis {
  const ioredis = createRequire(import.meta.url)('ioredis') as { default?: unknown };
  const IORedis = (ioredis.default ?? ioredis) as new (options: object) => Redis;
  const client = new IORedis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: false });
  client.on('error', () => undefined); // a node the test kills
  return client;
}

/** One `redis-server` process (data node or sentinel) on 127.0.0.1. */
class RedisNode {
  readonly exited: Promise<void>;

  constructor(
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async spawn(port: number, args: string[], ready: RegExp): Promise<RedisNode> {
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const node = new RedisNode(port, child);
    const started = deferred<void>();
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) started.resolve();
    });
    child.once('exit', (code) => started.settled || started.reject(new Error(`redis-server exited (${code}): ${output}`)));
    await within(started.promise, 10_000, `redis-server on ${port} ready`);
    return node;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/**
 * A Redis Sentinel set of the test's own: a master, one replica and three sentinels (quorum 2),
 * all `redis-server` processes on free 127.0.0.1 ports, without persistence, their config files
 * in a temp dir. Sentinels consider a master down after 1 s, so that a failover takes a few seconds.
 */
export class TestSentinelSet {
  private readonly admins = new Map<number, Redis>();

  private constructor(
    private readonly dir: string,
    private readonly data: RedisNode[],
    private readonly watchers: RedisNode[],
  ) {}

  /** The sentinels' addresses, as ioredis takes them. */
  get sentinels(): { host: string; port: number }[] {
    return this.watchers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  /** `host:port,...` (the sample's REDIS_SENTINELS). */
  get sentinelList(): string {
    return this.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
  }

  static async start(): Promise<TestSentinelSet> {
    if (spawnSync('redis-server', ['--version']).status !== 0) {
      throw new Error('redis-server is not installed: run `sudo apt-get install -y redis-server`');
    }
    const dir = mkdtempSync(path.join(os.tmpdir(), 'longlink-sentinel-'));
    const nodes: RedisNode[] = [];
    try {
      const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir];
      // Diskless replication without delay: a replica is in sync a moment after it starts.
      const sync = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];
      const masterPort = await freePort();
      nodes.push(await RedisNode.spawn(masterPort, ['--port', String(masterPort), ...common, ...sync], /Ready to accept connections/));
      const replicaPort = await freePort();
      nodes.push(
        await RedisNode.spawn(
          replicaPort,
          ['--port', String(replicaPort), ...common, ...sync, '--replicaof', '127.0.0.1', String(masterPort)],
          /Ready to accept connections/,
        ),
      );
      const sentinels: RedisNode[] = [];
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const file = path.join(dir, `sentinel-${i}.conf`);
        // Sentinel rewrites its config file (known replicas, sentinels, epochs): one writable file each.
        writeFileSync(
          file,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            'protected-mode no',
            `dir ${dir}`,
            `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
            `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${DOWN_AFTER_MS}`,
            `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${FAILOVER_TIMEOUT_MS}`,
            `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
            '',
          ].join('\n'),
        );
        const node = await RedisNode.spawn(port, [file, '--sentinel'], /\+monitor master/);
        nodes.push(node);
        sentinels.push(node);
      }
      const set = new TestSentinelSet(dir, nodes.slice(0, 2), sentinels);
      await set.settled();
      return set;
    } catch (error) {
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** One admin connection per port, made on first use (closed by `stop()`). */
  client(port: number): Redis {
    let client = this.admins.get(port);
    if (!client) this.admins.set(port, (client = redisClient(port)));
    return client;
  }

  /**
   * Waits until the replica is in sync and every sentinel knows the replica and the two other
   * sentinels: before that, a failover could not happen (no quorum, no known replica).
   */
  private async settled(ms = 20_000): Promise<void> {
    const replica = this.client(this.data[1]!.port);
    await until(async () => /master_link_status:up/.test(await replica.info('replication')), ms, 'replica in sync');
    for (const s of this.watchers) {
      const client = this.client(s.port);
      await until(
        async () => {
          const fields = (await client.call('SENTINEL', 'MASTER', SENTINEL_MASTER_NAME)) as string[];
          const get = (name: string) => Number(fields[fields.indexOf(name) + 1]);
          return get('num-slaves') >= 1 && get('num-other-sentinels') >= 2;
        },
        ms,
        `sentinel ${s.port} knows the replica and the other sentinels`,
      );
    }
  }

  /** The master's port, as the first sentinel reports it. */
  async masterPort(): Promise<number> {
    const sentinel = this.client(this.watchers[0]!.port);
    const [, port] = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME)) as [string, string];
    return Number(port);
  }

  /** The port of the other data node than `masterPort` (the replica, before a failover). */
  replicaPort(masterPort: number): number {
    return this.data.find((n) => n.port !== masterPort)!.port;
  }

  /** Kills the current master with SIGKILL; resolves with its port. */
  async killMaster(): Promise<number> {
    const port = await this.masterPort();
    await this.data.find((n) => n.port === port)!.kill();
    return port;
  }

  /**
   * Waits until the sentinels name a master other than `oldPort` and that node says it is a
   * master; resolves with its port.
   */
  async failedOver(oldPort: number, ms = 30_000): Promise<number> {
    let port = oldPort;
    await until(
      async () => {
        port = await this.masterPort();
        if (port === oldPort) return false;
        return /role:master/.test(await this.client(port).info('replication'));
      },
      ms,
      'the sentinels promoted the replica',
    );
    return port;
  }

  async stop(): Promise<void> {
    for (const client of this.admins.values()) client.disconnect();
    this.admins.clear();
    await Promise.all([...this.data, ...this.watchers].map((n) => n.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
