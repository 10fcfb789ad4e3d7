import { createRequire } from 'node:module';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keySlot } from '../../lib/hub/adapters/redis-keys.js';
import { freePort } from './redis-server.js';
import { deferred, until, within } from './util.js';

type Redis = import('ioredis').Redis;

/** ioredis' client class, loaded as the module loads it (ioredis 5.0.0 has no named `Redis`). */
function redisClass(): new (options: object) => Redis {
  const ioredis = createRequire(import.meta.url)('ioredis') as { default?: unknown };
  return (ioredis.default ?? ioredis) as new (options: object) => Redis;
}

/** One `redis-server --cluster-enabled yes` of a test cluster. */
export class ClusterNode {
  child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly nodeTimeoutMs: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** (Re)starts the node; its cluster identity (nodes.conf in its own folder) survives a restart. */
  async run(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--save', '', '--appendonly', 'no'];
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(this.nodeTimeoutMs));
    // A replica whose master died takes over at once (no extra delay for its replication offset).
    args.push('--cluster-replica-validity-factor', '0', '--dir', this.dir);
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const ready = deferred<void>();
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) ready.resolve();
    });
    child.once('exit', (code) => ready.settled || ready.reject(new Error(`redis-server ${this.port} exited (${code}): ${output}`)));
    await within(ready.promise, 10_000, `redis-server ${this.port} ready`);
  }

  /** SIGKILL (`kill -9`): no goodbye to the cluster, its data in memory is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  /** Stops (SIGSTOP) or resumes (SIGCONT) the process: a node that hangs. */
  pause(paused: boolean): void {
    this.child?.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }
}

/**
 * A real Redis Cluster of the test's own: `masters` masters with `replicas` replicas each, on
 * free ports of 127.0.0.1, each node in its own temporary folder, made with
 * `redis-cli --cluster create`. `stop()` kills every node and removes the folders.
 */
export class TestRedisCluster {
  private readonly admins = new Map<string, Redis>();

  private constructor(
    readonly nodes: ClusterNode[],
    private readonly root: string,
  ) {}

  /** `host:port` of every node, for `hub.redis: { cluster: { nodes } }`. */
  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  static async start(options: { masters?: number; replicas?: number; nodeTimeoutMs?: number } = {}): Promise<TestRedisCluster> {
    const { masters = 3, replicas = 1, nodeTimeoutMs = 1000 } = options;
    if (spawnSync('redis-server', ['--version']).status !== 0) {
      throw new Error('redis-server is not installed: run `sudo apt-get install -y redis-server` (npm test does when root)');
    }
    const root = mkdtempSync(join(tmpdir(), 'longlink-cluster-'));
    const nodes: ClusterNode[] = [];
    const cluster = new TestRedisCluster(nodes, root);
    try {
      for (let i = 0; i < masters * (1 + replicas); i++) nodes.push(new ClusterNode(await freePort(), mkdtempSync(join(root, 'n')), nodeTimeoutMs));
      await Promise.all(nodes.map((n) => n.run()));
      const create = spawnSync(
        'redis-cli',
        ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', String(replicas), '--cluster-yes'],
        { encoding: 'utf8', timeout: 30_000 },
      );
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
      await cluster.waitHealthy(masters, masters * replicas);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** An admin connection to one node (not a cluster client: it talks to that node only). */
  admin(node: ClusterNode): Redis {
    let client = this.admins.get(node.address);
    if (!client) {
      const Redis = redisClass();
      client = new Redis({ host: '127.0.0.1', port: node.port, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
      client.on('error', () => undefined);
      this.admins.set(node.address, client);
    }
    return client;
  }

  /** The running nodes with their roles and the slots each master serves, as a live node sees them. */
  private async roles(): Promise<{ node: ClusterNode; master: boolean; slots: [number, number][]; ok: boolean }[]> {
    const live = this.nodes.filter((n) => n.child);
    const out = [];
    for (const node of live) {
      const [info, role] = await Promise.all([this.admin(node).cluster('INFO'), this.admin(node).role()]);
      const myself = ((await this.admin(node).cluster('NODES')) as string).split('\n').find((l) => l.includes('myself'))!;
      const slots = myself
        .split(' ')
        .slice(8)
        .filter((s) => /^\d+(-\d+)?$/.test(s))
        .map((s) => s.split('-').map(Number) as [number, number?])
        .map(([a, b]) => [a, b ?? a] as [number, number]);
      out.push({ node, master: role[0] === 'master', slots, ok: info.includes('cluster_state:ok') });
    }
    return out;
  }

  /** Waits until every live node says `cluster_state:ok` and sees the expected masters and replicas. */
  async waitHealthy(masters: number, replicas: number, ms = 20_000): Promise<void> {
    await until(
      async () => {
        try {
          const roles = await this.roles();
          if (!roles.every((r) => r.ok)) return false;
          const owners = roles.filter((r) => r.master && r.slots.length > 0).length;
          const synced = await Promise.all(
            roles.filter((r) => !r.master).map(async (r) => (await this.admin(r.node).info('replication')).includes('master_link_status:up')),
          );
          return owners === masters && synced.length === replicas && synced.every(Boolean);
        } catch {
          return false;
        }
      },
      ms,
      'cluster_state:ok with every master and replica in place',
    );
  }

  /** The master that serves `key`'s slot now. */
  async masterOf(key: string): Promise<ClusterNode> {
    const slot = keySlot(key);
    const roles = await this.roles();
    const owner = roles.find((r) => r.master && r.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!owner) throw new Error(`no master serves slot ${slot}`);
    return owner.node;
  }

  /** A replica of `master` (as the replica itself reports). */
  async replicaOf(master: ClusterNode): Promise<ClusterNode> {
    for (const node of this.nodes.filter((n) => n.child && n !== master)) {
      const info = await this.admin(node).info('replication');
      if (info.includes('role:slave') && info.includes(`master_port:${master.port}`)) return node;
    }
    throw new Error(`no replica of ${master.address}`);
  }

  /** Subscriptions to the shard channel `channel` on the master serving it (`PUBSUB SHARDNUMSUB`). */
  async shardSubscriberCount(channel: string): Promise<number> {
    const master = await this.masterOf(channel);
    const [, count] = (await this.admin(master).call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
    return count;
  }

  /**
   * Subscriptions to `channel` in the cluster: sharded ones on its master, plus classic ones on
   * every node (the hub's fallback with an ioredis without sharded Pub/Sub).
   */
  async subscriberCount(channel: string): Promise<number> {
    let count = await this.shardSubscriberCount(channel);
    for (const node of this.nodes.filter((n) => n.child)) count += ((await this.admin(node).pubsub('NUMSUB', channel)) as [string, number])[1];
    return count;
  }

  /**
   * Waits until the cluster reports at least `count` subscriptions to `channel`: from then on a
   * publish reaches them. The hub's channel of topic T is `<keyPrefix>{T}:c` on a cluster.
   */
  async waitForSubscribers(channel: string, count = 1, ms = 5000): Promise<void> {
    await until(async () => (await this.subscriberCount(channel).catch(() => 0)) >= count, ms, `${channel}: ${count} subscribers`);
  }

  async stop(): Promise<void> {
    for (const client of this.admins.values()) client.disconnect();
    this.admins.clear();
    await Promise.all(this.nodes.map((n) => n.kill()));
    rmSync(this.root, { recursive: true, force: true });
  }
}
