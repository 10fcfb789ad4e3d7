/**
 * The report's comparisons that need more than a median: bootstrap intervals over the
 * repetitions (latency spread, `--baseline` before/after), the limit baseline beside the plain
 * raw loops, and the per-subscriber-handler scenario.
 */
import { TRANSPORTS, type BenchImpl, type BenchTransport } from './bench.protocol.js';
import type { RunRecord } from './bench.scenarios.js';

/** What these sections read of a run's results. */
export interface ComparedResults {
  records: RunRecord[];
  baseline?: { ref: string; commit: string };
}

const TRANSPORT_NAMES: Record<BenchTransport, string> = { sse: 'SSE', ws: 'WebSocket', grpc: 'gRPC' };
/** Resamples per interval: enough for a stable 95% interval of a median of a few values. */
const RESAMPLES = 2000;

export function median(values: number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A small seeded generator (mulberry32): the same run gives the same intervals. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The 95% percentile-bootstrap interval of the median of `values` (resampled with
 * replacement). With n values the interval can be no narrower than their spread allows: with
 * 3 it is about their range, so it says how far apart two figures must be to differ.
 */
export function bootstrapMedian(values: number[]): [number, number] {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return [NaN, NaN];
  const next = random(v.length * 7919 + Math.round(v[0]! * 1000));
  const medians = new Float64Array(RESAMPLES);
  const sample = new Array<number>(v.length);
  for (let r = 0; r < RESAMPLES; r++) {
    for (let i = 0; i < v.length; i++) sample[i] = v[Math.floor(next() * v.length)]!;
    medians[r] = median(sample);
  }
  medians.sort();
  return [medians[Math.floor(RESAMPLES * 0.025)]!, medians[Math.floor(RESAMPLES * 0.975)]!];
}

function runsOf(results: ComparedResults, scenario: string, transport: BenchTransport, impl: BenchImpl, params: Record<string, number>): RunRecord[] {
  return results.records.filter(
    (r) => r.scenario === scenario && r.transport === transport && r.impl === impl && Object.entries(params).every(([k, v]) => r.params[k] === v),
  );
}

/**
 * `a`/`b` of `metric` per repetition: the two runs of one repetition ran one after the other
 * (interleaved), so the machine's drift between repetitions cancels out.
 */
export function pairedRatios(a: RunRecord[], b: RunRecord[], metric: string): number[] {
  const out: number[] = [];
  for (const x of a) {
    const y = b.find((r) => r.rep === x.rep);
    const va = x.metrics[metric];
    const vb = y?.metrics[metric];
    if (va !== undefined && vb !== undefined && vb !== 0 && Number.isFinite(va) && Number.isFinite(vb)) out.push(va / vb);
  }
  return out;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const abs = Math.abs(v);
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** `1.05× [0.92–1.20]`: the median of the paired ratios and its bootstrap interval. */
function ratioCell(ratios: number[]): string {
  if (ratios.length === 0) return '–';
  const [lo, hi] = bootstrapMedian(ratios);
  return ratios.length > 1 ? `${median(ratios).toFixed(2)}× [${lo.toFixed(2)}–${hi.toFixed(2)}]` : `${ratios[0]!.toFixed(2)}×`;
}

/** `7.1 [6.2–9.9] ms (n=5)`: a median with its bootstrap interval. */
function valueCell(values: number[], scale = 1): string {
  if (values.length === 0) return '–';
  if (values.length === 1) return fmt(values[0]! / scale);
  const [lo, hi] = bootstrapMedian(values);
  return `${fmt(median(values) / scale)} [${fmt(lo / scale)}–${fmt(hi / scale)}] (n=${values.length})`;
}

/** The distinct parameter sets a scenario ran with, in the order first seen. */
function paramSets(results: ComparedResults, scenario: string): Array<Record<string, number>> {
  const seen = new Map<string, Record<string, number>>();
  for (const r of results.records) if (r.scenario === scenario) seen.set(JSON.stringify(r.params), r.params);
  return [...seen.values()];
}

const metricOf = (r: RunRecord, metric: string): number => r.metrics[metric] ?? NaN;

/**
 * p99 with its spread: each implementation's p99 over the repetitions (median, 95% bootstrap
 * interval) and the module's ratio to raw (and to the baseline) per repetition.
 */
export function latencySpread(results: ComparedResults, scenario = 'latency'): string {
  const impls: BenchImpl[] = ['raw', 'module', 'nest', ...(results.baseline ? (['baseline'] as const) : [])];
  const lines = [
    `| transport | subscribers × values/s | ${impls.map((i) => `${i} p99 ms`).join(' | ')} | module/raw${results.baseline ? ' | module/baseline' : ''} |`,
    `|---|---|${impls.map(() => '---:').join('|')}|---:|${results.baseline ? '---:|' : ''}`,
  ];
  for (const transport of TRANSPORTS) {
    for (const params of paramSets(results, scenario)) {
      const runs = Object.fromEntries(impls.map((i) => [i, runsOf(results, scenario, transport, i, params)])) as Record<BenchImpl, RunRecord[]>;
      if (!runs.module?.length && !runs.raw?.length) continue;
      const cells = impls.map((i) =>
        valueCell(
          runs[i].map((r) => metricOf(r, 'p99Us')),
          1000,
        ),
      );
      const vsBase = results.baseline ? ` | ${ratioCell(pairedRatios(runs.module, runs.baseline, 'p99Us'))}` : '';
      lines.push(
        `| ${TRANSPORT_NAMES[transport]} | ${params.subscribers} × ${params.rate} | ${cells.join(' | ')} | ${ratioCell(pairedRatios(runs.module, runs.raw, 'p99Us'))}${vsBase} |`,
      );
    }
  }
  return lines.length > 2 ? `${lines.join('\n')}\n` : '(no latency runs)\n';
}

/** Broadcast server CPU per delivery and throughput: raw, the limit, the module; ratios to the limit. */
export function limitTable(results: ComparedResults, scenario = 'broadcast'): string {
  const lines = [
    '| transport | N | raw µs | limit µs | module µs | raw/limit | module/limit | module/raw | raw /s | limit /s | module /s |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const transport of TRANSPORTS) {
    for (const params of paramSets(results, scenario)) {
      const raw = runsOf(results, scenario, transport, 'raw', params);
      const limit = runsOf(results, scenario, transport, 'raw-limit', params);
      const mod = runsOf(results, scenario, transport, 'module', params);
      if (limit.length === 0) continue;
      const m = (runs: RunRecord[], metric: string): number => median(runs.map((r) => metricOf(r, metric)));
      const cpu = 'serverUsPerDelivery';
      const thr = 'deliveredPerSec';
      lines.push(
        `| ${TRANSPORT_NAMES[transport]} | ${params.subscribers} | ${fmt(m(raw, cpu))} | ${fmt(m(limit, cpu))} | ${fmt(m(mod, cpu))} | ${ratioCell(pairedRatios(raw, limit, cpu))} | ${ratioCell(pairedRatios(mod, limit, cpu))} | ${ratioCell(pairedRatios(mod, raw, cpu))} | ${fmt(m(raw, thr))} | ${fmt(m(limit, thr))} | ${fmt(m(mod, thr))} |`,
      );
    }
  }
  return lines.length > 2 ? `${lines.join('\n')}\n` : '(no limit runs)\n';
}

/** The per-subscriber-handler scenario: module against raw, CPU per delivery, throughput and p99. */
export function handlerTable(results: ComparedResults): string {
  const lines = [
    '| transport | run | raw µs/delivery | module µs/delivery | module/raw CPU | raw /s | module /s | module/raw throughput | raw p99 ms | module p99 ms | module/raw p99 |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const transport of TRANSPORTS) {
    for (const scenario of ['handler', 'handler-flood']) {
      for (const params of paramSets(results, scenario)) {
        const raw = runsOf(results, scenario, transport, 'raw', params);
        const mod = runsOf(results, scenario, transport, 'module', params);
        if (raw.length === 0 && mod.length === 0) continue;
        const m = (runs: RunRecord[], metric: string): number => median(runs.map((r) => metricOf(r, metric)));
        const label = scenario === 'handler' ? `${params.subscribers} × ${params.rate}/s` : '1, as fast as it goes';
        const p99 = scenario === 'handler';
        lines.push(
          `| ${TRANSPORT_NAMES[transport]} | ${label} | ${fmt(m(raw, 'serverUsPerDelivery'))} | ${fmt(m(mod, 'serverUsPerDelivery'))} | ${ratioCell(pairedRatios(mod, raw, 'serverUsPerDelivery'))} | ${fmt(m(raw, 'deliveredPerSec'))} | ${fmt(m(mod, 'deliveredPerSec'))} | ${ratioCell(pairedRatios(mod, raw, 'deliveredPerSec'))} | ${p99 ? fmt(m(raw, 'p99Us') / 1000) : '–'} | ${p99 ? fmt(m(mod, 'p99Us') / 1000) : '–'} | ${p99 ? ratioCell(pairedRatios(mod, raw, 'p99Us')) : '–'} |`,
        );
      }
    }
  }
  return lines.length > 2 ? `${lines.join('\n')}\n` : '(no per-subscriber-handler runs)\n';
}

/** `--baseline`: this tree's module against the baseline commit's, every figure both ran, paired per repetition. */
export function baselineSection(results: ComparedResults): string | undefined {
  if (!results.baseline) return undefined;
  const figures: Array<[string, string, string]> = [
    ['broadcast', 'serverUsPerDelivery', 'server CPU µs per delivery'],
    ['broadcast', 'deliveredPerSec', 'delivered/s'],
    ['broadcast-turn', 'deliveredPerSec', 'delivered/s, one value per turn'],
    ['latency', 'p50Us', 'p50 µs'],
    ['latency', 'p99Us', 'p99 µs'],
    ['latency', 'serverUsPerDelivery', 'server CPU µs per delivery'],
    ['subscribe', 'serverUsPerSubscribe', 'server CPU µs per subscribe'],
    ['idle', 'rssPerSubBytes', 'idle RSS bytes per subscription'],
    ['idle', 'heapPerSubBytes', 'idle heap bytes per subscription'],
  ];
  const lines = [
    `## Before/after: this tree against ${results.baseline.ref} (${results.baseline.commit.slice(0, 10)})`,
    '',
    'The module of this tree (`module`) and of the baseline commit (`baseline`, built in a temporary worktree with the same `node_modules`), interleaved in every repetition. The ratio is this tree over the baseline, per repetition, median with its 95% bootstrap interval: an interval that holds 1.00× means no change this run can detect.',
    '',
    '| scenario | transport | parameters | figure | this tree | baseline | this tree / baseline |',
    '|---|---|---|---|---:|---:|---:|',
  ];
  for (const [scenario, metric, label] of figures) {
    for (const transport of TRANSPORTS) {
      for (const params of paramSets(results, scenario)) {
        const mod = runsOf(results, scenario, transport, 'module', params);
        const base = runsOf(results, scenario, transport, 'baseline', params);
        if (mod.length === 0 || base.length === 0 || !mod.some((r) => r.metrics[metric] !== undefined)) continue;
        const p = Object.entries(params)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        lines.push(
          `| ${scenario} | ${TRANSPORT_NAMES[transport]} | ${p} | ${label} | ${valueCell(mod.map((r) => metricOf(r, metric)))} | ${valueCell(base.map((r) => metricOf(r, metric)))} | ${ratioCell(pairedRatios(mod, base, metric))} |`,
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
