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

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');

/** Durations and sizes: the full suite, or the quick one (one repetition, shorter windows). */
const config = quick
  ? {
      reps: 1,
      fanout: [100],
      metricsFanout: [100],
      broadcastMs: { 1: 700, 100: 700, 1000: 700 } as Record<number, number>,
      warmupMs: 100,
      latencyMs: 500,
      idleSubscribers: Number(process.env.BENCH_IDLE ?? 500),
      subscribeMs: 500,
      slowMs: 3000,
      slowControlMs: 2000,
      redis: { reps: 1, warmupMs: 100, windowMs: 500, floodMs: 700, probes: 50 },
    }
  : {
      reps: 3,
      fanout: [1, 100, 1000],
      metricsFanout: [1, 100],
      broadcastMs: { 1: 1000, 100: 1500, 1000: 1000 } as Record<number, number>,
      warmupMs: 150,
      latencyMs: 800,
      idleSubscribers: 5000,
      subscribeMs: 800,
      slowMs: 30_000,
      slowControlMs: 6000,
      redis: { reps: 3, warmupMs: 150, windowMs: 800, floodMs: 1500, probes: 90 },
    };

const onlyTransports = process.argv.find((a) => a.startsWith('--transports='))?.slice('--transports='.length).split(',');
const onlyImpls = process.argv.find((a) => a.startsWith('--impls='))?.slice('--impls='.length).split(',');
const onlyFanout = process.argv.find((a) => a.startsWith('--fanout='))?.slice('--fanout='.length).split(',').map(Number);
const onlyReps = process.argv.find((a) => a.startsWith('--reps='))?.slice('--reps='.length);
if (onlyReps) config.reps = config.redis.reps = Number(onlyReps);
const outDir = process.argv.find((a) => a.startsWith('--out='))?.slice('--out='.length);
if (onlyFanout) {
  config.fanout = onlyFanout;
  config.metricsFanout = onlyFanout;
}
/**
 * Opt-in scenarios run only when `--only=` names them; `metrics` also when `--impls=` names
 * `module-metrics` or `module-nometrics` (which run nowhere else).
 */
const OPT_IN = ['metrics'];
const metricsImplNamed = !!onlyImpls?.some((i) => i === 'module-metrics' || i === 'module-nometrics');
const wanted = (scenario: string): boolean =>
  only ? only.includes(scenario) : !OPT_IN.includes(scenario) || (scenario === 'metrics' && metricsImplNamed);
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
      servers.set(impl, await ServerProcess.start(impl));
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
  console.log(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${record.scenario} ${record.transport} ${record.impl} ${params} #${record.rep}: ${figures}${warn}`);
}

/** The implementations in a different order each repetition: no one always runs first. */
function order(rep: number): BenchImpl[] {
  return IMPLS.map((_, i) => IMPLS[(i + rep) % IMPLS.length]!).filter((impl) => !onlyImpls || onlyImpls.includes(impl));
}

/** The metrics scenario's implementations in this repetition's order (module, metrics off, metrics on, rotated). */
function metricsOrder(rep: number): BenchImpl[] {
  return METRICS_IMPLS.map((_, i) => METRICS_IMPLS[(i + rep) % METRICS_IMPLS.length]!).filter((impl) => !onlyImpls || onlyImpls.includes(impl));
}

/** The raw Express SSE baseline runs beside the others in the per-subscription scenarios (idle, subscribe) on SSE. */
const withExpress = (!onlyImpls || onlyImpls.includes('express')) && (!onlyTransports || onlyTransports.includes('sse'));
/** The implementations of a per-subscription scenario on `transport`, in this repetition's order. */
function perSubscription(rep: number, transport: string): BenchImpl[] {
  return transport === 'sse' && withExpress ? [...order(rep), 'express'] : order(rep);
}

const servers = new Map<BenchImpl, ServerProcess>();
async function main(): Promise<void> {
  const main = ['broadcast', 'broadcast-turn', 'latency', 'subscribe', 'idle', 'slow'].some(wanted);
  if (main) for (const impl of IMPLS.filter((i) => !onlyImpls || onlyImpls.includes(i))) servers.set(impl, await ServerProcess.start(impl));
  if (withExpress && (wanted('subscribe') || wanted('idle'))) servers.set('express', await ServerProcess.start('express'));
  if (wanted('metrics')) {
    for (const impl of metricsOrder(0)) if (!servers.has(impl)) servers.set(impl, await ServerProcess.start(impl));
  }
  const server = (impl: BenchImpl): ServerProcess => servers.get(impl)!;

  for (let rep = 0; rep < config.reps; rep++) {
    for (const transport of TRANSPORTS.filter((t) => !onlyTransports || onlyTransports.includes(t))) {
      if (wanted('broadcast')) {
        for (const subscribers of config.fanout) {
          for (const impl of order(rep)) {
            await attempt(`broadcast ${transport} ${impl}`, impl, () => broadcast(server(impl), transport, impl, {
              scenario: 'broadcast', subscribers, perTurn: 20, warmupMs: config.warmupMs, windowMs: config.broadcastMs[subscribers]!, rep,
            }));
          }
        }
      }
      if (wanted('broadcast-turn') && transport === 'ws') {
        for (const impl of order(rep)) {
          await attempt(`broadcast ${transport} ${impl}`, impl, () => broadcast(server(impl), transport, impl, {
            scenario: 'broadcast-turn', subscribers: 100, perTurn: 1, warmupMs: config.warmupMs, windowMs: config.broadcastMs[100]!, rep,
          }));
        }
      }
      // What the module's OpenTelemetry metrics cost on the hot path: the module with the API
      // and no SDK (`module`), with metrics turned off (`module-nometrics`) and with a real SDK
      // MeterProvider (`module-metrics`), interleaved, broadcast as above and p99 at 100 × 100 and 1,000/s.
      if (wanted('metrics')) {
        for (const subscribers of config.metricsFanout) {
          for (const impl of metricsOrder(rep)) {
            await attempt(`metrics broadcast ${transport} ${impl}`, impl, () => broadcast(server(impl), transport, impl, {
              scenario: 'metrics', subscribers, perTurn: 20, warmupMs: config.warmupMs, windowMs: config.broadcastMs[subscribers]!, rep,
            }));
          }
        }
        for (const rate of [100, 1000]) {
          for (const impl of metricsOrder(rep)) {
            await attempt(`metrics latency ${transport} ${impl}`, impl, () => latency(server(impl), transport, impl, {
              scenario: 'metrics-latency', subscribers: 100, rate, warmupMs: config.warmupMs, windowMs: config.latencyMs, rep,
            }));
          }
        }
      }
      if (wanted('latency')) {
        for (const rate of [100, 1000]) {
          for (const impl of order(rep)) {
            await attempt(`latency ${transport} ${impl}`, impl, () => latency(server(impl), transport, impl, {
              scenario: 'latency', subscribers: 100, rate, warmupMs: config.warmupMs, windowMs: config.latencyMs, rep,
            }));
          }
        }
      }
      if (wanted('subscribe')) {
        for (const impl of perSubscription(rep, transport)) {
          await attempt(`subscribeRate ${transport} ${impl}`, impl, () => subscribeRate(server(impl), transport, impl, {
            scenario: 'subscribe', concurrency: 100, warmupMs: config.warmupMs, windowMs: config.subscribeMs, rep,
          }));
        }
      }
      if (wanted('idle')) {
        for (const impl of perSubscription(rep, transport)) {
          // A fresh server: memory figures from a process that ran floods earlier would be noise.
          const fresh = await ServerProcess.start(impl);
          try {
            await attempt(`idleMemory ${transport} ${impl}`, impl, () => idleMemory(fresh, transport, impl, { scenario: 'idle', subscribers: config.idleSubscribers, rep }));
          } finally {
            await fresh.stop();
          }
        }
      }
    }
  }
  // Redis: the module's hub against a raw ioredis Pub/Sub fan-out, two instances on one Redis.
  if (wanted('redis')) {
    const impls = REDIS_IMPLS.filter((impl) => !onlyImpls || onlyImpls.includes(impl));
    await redisScenario(config.redis, (what, run) => attempt(what, 'module-redis', run), impls);
  }
  // Slow consumer, module only, once per transport: a control run without the slow client,
  // then the 30 s run with it. 2 KB values at 200/s: the stopped reader is sent 400 KB/s, which
  // overflows the kernel's socket buffers (a few MB) well within the run, so the module's own
  // per-subscriber limit is what bounds memory.
  if (wanted('slow')) {
    for (const transport of TRANSPORTS.filter((t) => !onlyTransports || onlyTransports.includes(t))) {
      for (const slow of [false, true]) {
        await attempt(`latency ${transport} ${'module'}`, 'module', () => latency(server('module'), transport, 'module', {
          scenario: 'slow', subscribers: 100, rate: 200, padBytes: 2000, warmupMs: config.warmupMs,
          windowMs: slow ? config.slowMs : config.slowControlMs, rep: 0, slow,
        }));
      }
    }
  }
}

try {
  await main();
} finally {
  await Promise.all([...servers.values()].map((s) => s.stop()));
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
const where = outDir ?? 'bench';
console.log(`bench: ${records.length} runs in ${results.durationSec.toFixed(0)} s → ${where}/RESULTS.md, ${where}/results.json, ${where}/chart.svg`);
