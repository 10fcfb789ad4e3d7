/**
 * A benchmark server process: `node --expose-gc dist/bench/server.main.js <impl>` (a {@link BenchImpl}).
 * Serves one implementation on all three transports, and runs the value source the
 * orchestrator asks for (over IPC). The source is the same code for every implementation.
 */
import net, { type AddressInfo } from 'node:net';
import 'reflect-metadata';
import { benchValue, type BenchImpl, type ServerCommand, type ServerReply } from './bench.protocol.js';
import type { BenchServer } from './servers/bench-server.interface.js';
import { ModuleServer } from './servers/module.server.js';
import { ModuleMetricsServer } from './servers/module-metrics.server.js';
import { NestServer } from './servers/nest.server.js';
import { RawServer } from './servers/raw.server.js';
import { ExpressServer } from './servers/express.server.js';

const impl = process.argv[2] as BenchImpl;
const send = (reply: ServerReply): void => void process.send!(reply);

function create(): BenchServer {
  if (impl === 'raw') return new RawServer();
  if (impl === 'nest') return new NestServer();
  if (impl === 'module') return new ModuleServer();
  if (impl === 'module-nometrics') return new ModuleServer({ metrics: { enabled: false } });
  if (impl === 'module-metrics') return new ModuleMetricsServer();
  if (impl === 'express') return new ExpressServer();
  throw new Error(`unknown implementation ${String(impl)}`);
}

const server = create();
let seq = 0;
let published = 0;
/** The slowest subscriber's count, as last reported by the load client. */
let minReceived = 0;
let onCredit: (() => void) | undefined;
let stopSource: (() => void) | undefined;

const control = net.createServer((socket) => {
  let rest = '';
  socket.setNoDelay(true);
  socket.on('data', (chunk) => {
    const text = rest + chunk.toString('latin1');
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      rest = text;
      return;
    }
    const start = text.lastIndexOf('\n', end - 1);
    minReceived = Number(text.slice(start + 1, end));
    rest = text.slice(end + 1);
    const resume = onCredit;
    onCredit = undefined;
    resume?.();
  });
  socket.on('error', () => undefined);
});

let padBytes = 56;

function publishOne(): void {
  server.publish(benchValue(++seq, padBytes));
  published++;
}

function startSource(command: ServerCommand): void {
  stopSource?.();
  published = 0;
  minReceived = 0;
  padBytes = command.cmd === 'rate' ? (command.padBytes ?? 56) : 56;
  let stopped = false;
  if (command.cmd === 'warm') {
    const timer = setInterval(publishOne, command.intervalMs);
    stopSource = () => clearInterval(timer);
  } else if (command.cmd === 'flood') {
    // As fast as the server delivers: `perTurn` values per event-loop turn while the slowest
    // subscriber is less than `window` values behind; otherwise wait for its next report.
    const { perTurn, window } = command;
    const turn = (): void => {
      if (stopped) return;
      let n = 0;
      while (n < perTurn && published - minReceived < window) {
        publishOne();
        n++;
      }
      if (n > 0) setImmediate(turn);
      else onCredit = () => setImmediate(turn);
    };
    setImmediate(turn);
    stopSource = () => {
      stopped = true;
      onCredit = undefined;
    };
  } else if (command.cmd === 'rate') {
    // On a clock: value k is due at start + k / rate; a late timer catches up.
    const start = process.hrtime.bigint();
    const perValueNs = 1e9 / command.rate;
    let timer: NodeJS.Timeout | undefined;
    const tick = (): void => {
      if (stopped) return;
      const elapsed = Number(process.hrtime.bigint() - start);
      while (published * perValueNs <= elapsed) publishOne();
      const next = published * perValueNs - elapsed;
      timer = setTimeout(tick, Math.max(0, Math.floor(next / 1e6)));
    };
    tick();
    stopSource = () => {
      stopped = true;
      clearTimeout(timer);
    };
  }
}

async function memory(gc: boolean): Promise<ServerReply> {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (gc && collect) {
    for (let i = 0; i < 3; i++) {
      collect();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const m = process.memoryUsage();
  return {
    type: 'mem',
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    subscriptions: server.subscriptions(),
  };
}

process.on('message', (command: ServerCommand) => {
  void (async () => {
    switch (command.cmd) {
      case 'warm':
      case 'flood':
      case 'rate':
        startSource(command);
        send({ type: 'ok', cmd: command.cmd });
        break;
      case 'quiet':
      case 'stop':
        stopSource?.();
        stopSource = undefined;
        send({ type: 'ok', cmd: command.cmd, published, counted: command.cmd === 'stop' ? await server.eventsCounted?.() : undefined });
        break;
      case 'mem':
        send(await memory(command.gc));
        break;
      case 'exit':
        stopSource?.();
        await server.close();
        control.close();
        process.exit(0);
    }
  })().catch((error: unknown) => send({ type: 'error', message: String(error) }));
});
process.on('disconnect', () => process.exit(0));

const ports = await server.start();
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
send({ type: 'listening', ports: { ...ports, control: (control.address() as AddressInfo).port } });
