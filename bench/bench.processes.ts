import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchImpl, ClientCommand, ClientReply, ClientSpec, ServerCommand, ServerPorts, ServerReply } from './bench.protocol.js';

const SERVER_MAIN = fileURLToPath(new URL('./server.main.js', import.meta.url));
const CLIENT_MAIN = fileURLToPath(new URL('./client.main.js', import.meta.url));
/** How long any one step may take before the run is abandoned (a hung process, not a slow one). */
const STEP_TIMEOUT_MS = 60_000;

/** CPU seconds (user + system, all threads) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5) (utime, stime) are at 11 and 12 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A forked process that answers each command with one reply, in order, and may volunteer `ready`. */
class Child<Command, Reply extends { type: string }> {
  private readonly waiters: Array<{ resolve: (reply: Reply) => void; reject: (error: Error) => void }> = [];
  private readyWaiter?: { resolve: () => void; reject: (error: Error) => void };
  private isReady = false;
  private exited?: Promise<void>;
  private failure?: Error;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (reply: Reply) => {
      if (reply.type === 'ready') {
        this.isReady = true;
        this.readyWaiter?.resolve();
        return;
      }
      if (reply.type === 'error' && this.waiters.length === 0) {
        this.fail(new Error(`${name}: ${(reply as unknown as { message: string }).message}`));
        return;
      }
      this.waiters.shift()?.resolve(reply);
    });
    child.once('exit', (code, signal) => {
      if (code !== 0) this.fail(new Error(`${name} exited (${code ?? signal})`));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    this.readyWaiter?.reject(error);
  }

  request(command: Command): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return withTimeout(
      new Promise<Reply>((resolve, reject) => {
        this.waiters.push({ resolve, reject });
        this.child.send(command as object);
      }),
      `${this.name} ${JSON.stringify(command)}`,
    );
  }

  /** Resolves once the process has said `ready`. */
  ready(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.isReady) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve, reject) => (this.readyWaiter = { resolve, reject })), `${this.name} ready`);
  }

  async exit(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), STEP_TIMEOUT_MS);
    }),
  ]);
}

/** A benchmark server process (one implementation, all transports). */
export class ServerProcess extends Child<ServerCommand, ServerReply> {
  ports!: ServerPorts;

  /**
   * Forks a server for `impl`; `serverMain` (a `--baseline` build's server) runs another
   * build's server, which then serves its `module`.
   */
  static async start(impl: BenchImpl, serverMain?: string): Promise<ServerProcess> {
    const child = fork(serverMain ?? SERVER_MAIN, [serverMain ? 'module' : impl], {
      execArgv: ['--expose-gc', ...(process.env.BENCH_SERVER_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const server = new ServerProcess(`server ${impl}`, child);
    const listening = await withTimeout(
      new Promise<ServerReply>((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`server ${impl} exited (${code}) before listening`)));
      }),
      `server ${impl} start`,
    );
    if (listening.type !== 'listening') throw new Error(`server ${impl}: ${JSON.stringify(listening)}`);
    server.ports = listening.ports;
    return server;
  }

  async memory(gc: boolean): Promise<{ rss: number; heapUsed: number; external: number; subscriptions: number }> {
    const reply = await this.request({ cmd: 'mem', gc });
    if (reply.type !== 'mem') throw new Error(`server mem: ${JSON.stringify(reply)}`);
    return reply;
  }

  async stop(): Promise<void> {
    try {
      this.child.send({ cmd: 'exit' });
    } catch {
      // already gone
    }
    await this.exit();
  }
}

/** A load-client process. */
export class ClientProcess extends Child<ClientCommand, ClientReply> {
  static start(spec: ClientSpec): ClientProcess {
    const child = fork(CLIENT_MAIN, [JSON.stringify(spec)], {
      execArgv: process.env.BENCH_CLIENT_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new ClientProcess(`client ${spec.impl}/${spec.transport}/${spec.mode}`, child);
  }

  async mark(): Promise<Extract<ClientReply, { type: 'mark' }>> {
    const reply = await this.request({ cmd: 'mark' });
    if (reply.type !== 'mark') throw new Error(`client mark: ${JSON.stringify(reply)}`);
    return reply;
  }

  async close(): Promise<void> {
    if (this.child.connected) await this.request({ cmd: 'close' }).catch(() => undefined);
    await this.exit();
  }
}
