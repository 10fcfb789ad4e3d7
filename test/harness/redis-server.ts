import { createRequire } from 'node:module';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { deferred, until, within } from './util.js';

/** A free TCP port on 127.0.0.1 (redis-server cannot bind port 0 itself). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A redis-server of the test's own, on a free port, without persistence. */
export class TestRedis {
  private child: ChildProcess | undefined;
  private admin: import('ioredis').Redis | undefined;

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestRedis> {
    if (spawnSync('redis-server', ['--version']).status !== 0) {
      throw new Error('redis-server is not installed: run `sudo apt-get install -y redis-server` (npm test does when root)');
    }
    const redis = new TestRedis(await freePort());
    await redis.run();
    return redis;
  }

  /** (Re)starts the server on the same port. */
  async run(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const ready = deferred<void>();
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) ready.resolve();
    });
    child.once('exit', (code) => ready.settled || ready.reject(new Error(`redis-server exited (${code}): ${output}`)));
    await within(ready.promise, 10_000, 'redis-server ready');
  }

  /** Kills the server abruptly (SIGKILL): its data is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }

  async stop(): Promise<void> {
    this.admin?.disconnect();
    this.admin = undefined;
    await this.kill();
  }

  /**
   * Waits until Redis reports at least `count` subscriptions to `channel` (`PUBSUB NUMSUB`):
   * from then on a publish reaches those subscribers. The ready signal for hub tests (the hub's
   * channel of topic T is `<keyPrefix>c:T`, `longlink:c:T` by default).
   */
  async waitForSubscribers(channel: string, count = 1, ms = 5000): Promise<void> {
    await until(async () => (await this.subscriberCount(channel)) >= count, ms, `${channel}: ${count} subscribers`);
  }

  /** Subscriptions to `channel` now (`PUBSUB NUMSUB`). */
  async subscriberCount(channel: string): Promise<number> {
    if (!this.admin) {
      // Loaded as the module loads it: ioredis 5.0.0 (the low end of the peer range) has no named `Redis`.
      const ioredis = createRequire(import.meta.url)('ioredis') as { default?: unknown };
      const Redis = (ioredis.default ?? ioredis) as new (url: string, options: object) => import('ioredis').Redis;
      this.admin = new Redis(this.url, { maxRetriesPerRequest: 1 });
      this.admin.on('error', () => undefined); // reconnects by itself across kill()/run()
    }
    const [, subscribers] = (await this.admin.pubsub('NUMSUB', channel)) as [string, number];
    return subscribers;
  }
}
