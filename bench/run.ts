/**
 * The benchmark suite: `npm run bench` (about 9 minutes) or `npm run bench -- --quick`
 * (under 2). Servers and load clients are separate processes on 127.0.0.1; implementations
 * run interleaved (raw, module, nest, then the next configuration...) and every configuration
 * is repeated, so the machine's drift hits all of them alike. Writes `bench/results.json`,
 * `bench/RESULTS.md` and `bench/chart.svg` (or into `--out=<dir>`). The `metrics` scenario
 * (the module without and with an OpenTelemetry SDK) is opt-in: `--only=metrics`, or `--impls=`
 * naming `module-metrics` or `module-nometrics`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ServerProcess } from './bench.processes.js';
import { IMPLS, METRICS_IMPLS, REDIS_IMPLS, TRANSPORTS, type BenchImpl } from './bench.protocol.js';
import { redisScenario } from './redis.scenario.js';
import { redisSection } from './redis.report.js';
import { broadcast, idleMemory, latency, subscribeRate, type RunRecord } from './bench.scenarios.js';
import { metricsSection, renderChart, renderReport, type BenchResults } from './bench.report.js';
import { baselineSection, handlerTable, latencySpread, limitTable } from './bench.compare.js';
import { prepareBaseline, type Baseline } from './bench.baseline.js';
import { baselineRef, config, outDir, quick, wanted, wantedImpl, wantedTransport } from './bench.config.js';

const records: RunRecord[] = [];
const failures: string[] = [];
const started = Date.now();

/** Runs one measurement; a failure is reported (and the run goes on) rather than ending the suite. */
async function attempt(what: string, impl: BenchImpl, run: () => Promise<RunRecord>): Promise<void> {
  try {
    log(await run());
  } catch (error) {
    const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
    failures.push(message);
    console.log(`[${((Date.now() - started) / 1000).toFixed(0)}s] FAILED ${message}`);
    const server = servers.get(impl);
    if (server && (server.child.exitCode !== null || server.child.signalCode !== null)) {
      servers.set(impl, await startServer(impl));
    }
  }
}

function log(record: RunRecord): void {
  records.push(record);
  const figures = Object.entries(record.metrics)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ');
  const params = Object.entries(record.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const warn = record.warnings.length ? `  !! ${record.warnings.join('; ')}` : '';
  console.log(
    `[${((Date.now() - started) / 1000).toFixed(0)}s] ${record.scenario} ${record.transport} ${record.impl} ${params} #${record.rep}: ${figures}${warn}`,
  );
}

/** `--baseline`: the other commit's build, whose server runs as implementation `baseline`. */
let baseline: Baseline | undefined;

/** A server process for `impl` (`baseline`: the other commit's own server). */
function startServer(impl: BenchImpl): Promise<ServerProcess> {
  return ServerProcess.start(impl, impl === 'baseline' ? baseline!.serverMain : undefined);
}

/** `list` in a different order each repetition (no one always runs first), filtered by `--impls`. */
function rotate(list: readonly BenchImpl[], rep: number): BenchImpl[] {
  return list.map((_, i) => list[(i + rep) % list.length]!).filter(wantedImpl);
}

/** The compared implementations (raw, module, Nest; and the `--baseline` build), in this repetition's order. */
function order(rep: number): BenchImpl[] {
  return rotate(baseline ? [...IMPLS, 'baseline'] : IMPLS, rep);
}

/** Broadcast tables also show the limit: the raw servers written the fastest way. */
function broadcastOrder(rep: number): BenchImpl[] {
  return rotate(baseline ? [...IMPLS, 'raw-limit', 'baseline'] : [...IMPLS, 'raw-limit'], rep);
}

/** The per-subscriber-handler scenario: the module against raw. */
function handlerOrder(rep: number): BenchImpl[] {
  return rotate(['raw', 'module'], rep);
}

/** The metrics scenario's implementations in this repetition's order (module, metrics off, metrics on, rotated). */
function metricsOrder(rep: number): BenchImpl[] {
  return rotate(METRICS_IMPLS, rep);
}

/** The raw Express SSE baseline runs beside the others in the per-subscription scenarios (idle, subscribe) on SSE. */
const withExpress = wantedImpl('express') && wantedTransport('sse');
/** The implementations of a per-subscription scenario on `transport`, in this repetition's order. */
function perSubscription(rep: number, transport: string): BenchImpl[] {
  return transport === 'sse' && withExpress ? [...order(rep), 'express'] : order(rep);
}

const servers = new Map<BenchImpl, ServerProcess>();
async function main(): Promise<void> {
  if (baselineRef) {
    baseline = prepareBaseline(baselineRef);
    // An interrupted run removes its worktree too.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        baseline?.remove();
        process.exit(130);
      });
    }
    console.log(`baseline: ${baselineRef} = ${baseline.commit.slice(0, 10)}, built in ${baseline.serverMain}`);
  }
  const main = ['broadcast', 'broadcast-turn', 'latency', 'subscribe', 'idle', 'slow', 'handler', 'handler-flood'].some(wanted);
  const needed = new Set<BenchImpl>(main ? order(0) : []);
  if (wanted('broadcast') || wanted('broadcast-turn')) for (const impl of broadcastOrder(0)) needed.add(impl);
  if (withExpress && (wanted('subscribe') || wanted('idle'))) needed.add('express');
  if (wanted('metrics')) for (const impl of metricsOrder(0)) needed.add(impl);
  for (const impl of needed) servers.set(impl, await startServer(impl));
  const server = (impl: BenchImpl): ServerProcess => servers.get(impl)!;

  for (let rep = 0; rep < config.reps; rep++) {
    for (const transport of TRANSPORTS.filter(wantedTransport)) {
      if (wanted('broadcast')) {
        for (const subscribers of config.fanout) {
          for (const impl of broadcastOrder(rep)) {
            await attempt(`broadcast ${transport} ${impl}`, impl, () =>
              broadcast(server(impl), transport, impl, {
                scenario: 'broadcast',
                subscribers,
                perTurn: 20,
                warmupMs: config.warmupMs,
                windowMs: config.broadcastMs[subscribers]!,
                rep,
              }),
            );
          }
        }
      }
      if (wanted('broadcast-turn') && transport === 'ws') {
        for (const impl of broadcastOrder(rep)) {
          await attempt(`broadcast ${transport} ${impl}`, impl, () =>
            broadcast(server(impl), transport, impl, {
              scenario: 'broadcast-turn',
              subscribers: 100,
              perTurn: 1,
              warmupMs: config.warmupMs,
              windowMs: config.broadcastMs[100]!,
              rep,
            }),
          );
        }
      }
      // What the module's OpenTelemetry metrics cost on the hot path: the module with the API
      // and no SDK (`module`), with metrics turned off (`module-nometrics`) and with a real SDK
      // MeterProvider (`module-metrics`), interleaved, broadcast as above and p99 at 100 × 100 and 1,000/s.
      if (wanted('metrics')) {
        for (const subscribers of config.metricsFanout) {
          for (const impl of metricsOrder(rep)) {
            await attempt(`metrics broadcast ${transport} ${impl}`, impl, () =>
              broadcast(server(impl), transport, impl, {
                scenario: 'metrics',
                subscribers,
                perTurn: 20,
                warmupMs: config.warmupMs,
                windowMs: config.broadcastMs[subscribers]!,
                rep,
              }),
            );
          }
        }
        for (const rate of [100, 1000]) {
          for (const impl of metricsOrder(rep)) {
            await attempt(`metrics latency ${transport} ${impl}`, impl, () =>
              latency(server(impl), transport, impl, {
                scenario: 'metrics-latency',
                subscribers: 100,
                rate,
                warmupMs: config.warmupMs,
                windowMs: config.latencyMs,
                rep,
              }),
            );
          }
        }
      }
      if (wanted('latency')) {
        for (const rate of [100, 1000]) {
          for (const impl of order(rep)) {
            await attempt(`latency ${transport} ${impl}`, impl, () =>
              latency(server(impl), transport, impl, {
                scenario: 'latency',
                subscribers: 100,
                rate,
                warmupMs: config.warmupMs,
                windowMs: config.latencyMs,
                rep,
              }),
            );
          }
        }
      }
      // Per-subscriber handlers (no hub): each subscription its own Observable and its own values,
      // many subscribers at a steady rate (CPU per delivery, p99), and one as fast as it goes.
      if (wanted('handler')) {
        for (const impl of handlerOrder(rep)) {
          await attempt(`handler ${transport} ${impl}`, impl, () =>
            latency(server(impl), transport, impl, {
              scenario: 'handler',
              subscribers: config.handlerSubscribers,
              rate: config.handlerRate,
              warmupMs: config.warmupMs,
              windowMs: config.handlerMs,
              rep,
              own: true,
            }),
          );
        }
      }
      if (wanted('handler-flood')) {
        for (const impl of handlerOrder(rep)) {
          await attempt(`handler-flood ${transport} ${impl}`, impl, () =>
            broadcast(server(impl), transport, impl, {
              scenario: 'handler-flood',
              subscribers: 1,
              perTurn: 20,
              warmupMs: config.warmupMs,
              windowMs: config.handlerMs,
              rep,
              own: true,
            }),
          );
        }
      }
      if (wanted('subscribe')) {
        for (const impl of perSubscription(rep, transport)) {
          await attempt(`subscribeRate ${transport} ${impl}`, impl, () =>
            subscribeRate(server(impl), transport, impl, {
              scenario: 'subscribe',
              concurrency: 100,
              warmupMs: config.warmupMs,
              windowMs: config.subscribeMs,
              rep,
            }),
          );
        }
      }
      if (wanted('idle')) {
        for (const impl of perSubscription(rep, transport)) {
          // A fresh server: memory figures from a process that ran floods earlier would be noise.
          const fresh = await startServer(impl);
          try {
            await attempt(`idleMemory ${transport} ${impl}`, impl, () =>
              idleMemory(fresh, transport, impl, { scenario: 'idle', subscribers: config.idleSubscribers, rep }),
            );
          } finally {
            await fresh.stop();
          }
        }
      }
    }
  }
  // Redis: the module's hub against a raw ioredis Pub/Sub fan-out, two instances on one Redis.
  if (wanted('redis')) {
    const impls = REDIS_IMPLS.filter(wantedImpl);
    await redisScenario(config.redis, (what, run) => attempt(what, 'module-redis', run), impls);
  }
  // Slow consumer, module only, once per transport: a control run without the slow client,
  // then the 30 s run with it. 2 KB values at 200/s: the stopped reader is sent 400 KB/s, which
  // overflows the kernel's socket buffers (a few MB) well within the run, so the module's own
  // per-subscriber limit is what bounds memory.
  if (wanted('slow')) {
    for (const transport of TRANSPORTS.filter(wantedTransport)) {
      for (const slow of [false, true]) {
        await attempt(`latency ${transport} ${'module'}`, 'module', () =>
          latency(server('module'), transport, 'module', {
            scenario: 'slow',
            subscribers: 100,
            rate: 200,
            padBytes: 2000,
            warmupMs: config.warmupMs,
            windowMs: slow ? config.slowMs : config.slowControlMs,
            rep: 0,
            slow,
          }),
        );
      }
    }
  }
}

try {
  await main();
} finally {
  await Promise.all([...servers.values()].map((s) => s.stop()));
  baseline?.remove();
}

const results: BenchResults = {
  date: new Date().toISOString(),
  quick,
  durationSec: (Date.now() - started) / 1000,
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  },
  config,
  ...(baseline ? { baseline: { ref: baseline.ref, commit: baseline.commit } } : {}),
  records,
  failures,
};
const out = (name: string): string => {
  if (!outDir) return fileURLToPath(new URL(`../../bench/${name}`, import.meta.url));
  mkdirSync(outDir, { recursive: true });
  return path.join(outDir, name);
};
writeFileSync(out('results.json'), `${JSON.stringify(results, null, 1)}\n`);
writeFileSync(out('RESULTS.md'), renderReport(results));
writeFileSync(out('chart.svg'), renderChart(results));
const metricsReport = metricsSection(results);
if (metricsReport) console.log(`\n${metricsReport}`);
const redisReport = redisSection(results);
if (redisReport) console.log(`\n${redisReport}`);
// The comparisons with intervals, also on the console (partial runs write them to --out).
if (records.some((r) => r.impl === 'raw-limit')) console.log(`\nDistance to the limit (broadcast):\n${limitTable(results)}`);
if (records.some((r) => r.scenario === 'latency')) console.log(`\np99 spread:\n${latencySpread(results)}`);
if (records.some((r) => r.scenario.startsWith('handler'))) console.log(`\nPer-subscriber handlers:\n${handlerTable(results)}`);
const before = baselineSection(results);
if (before) console.log(`\n${before}`);
const where = outDir ?? 'bench';
console.log(`bench: ${records.length} runs in ${results.durationSec.toFixed(0)} s → ${where}/RESULTS.md, ${where}/results.json, ${where}/chart.svg`);
