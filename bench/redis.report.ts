import type { BenchResults } from './bench.report.js';
import type { RunRecord } from './bench.scenarios.js';

/** The `redis` scenario's section of RESULTS.md (also printed at the end of a run); `undefined` without its records. */

interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

function summarize(values: number[]): Summary | undefined {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}

function num(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 10_000) return `${(v / 1000).toFixed(0)}k`;
  return v.toFixed(digits);
}

function cell(s: Summary | undefined, digits = 0, scale = 1): string {
  if (!s) return 'n/a';
  const f = (v: number) => num(v / scale, digits);
  return s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

function ratio(a: Summary | undefined, b: Summary | undefined): string {
  return a && b && b.median !== 0 ? `${(a.median / b.median).toFixed(2)}×` : '–';
}

/** The runs of one configuration. */
function runs(results: BenchResults, scenario: string, impl: string, params: Record<string, number>): RunRecord[] {
  return results.records.filter((r) => r.scenario === scenario && r.impl === impl && Object.entries(params).every(([k, v]) => r.params[k] === v));
}

function stat(results: BenchResults, scenario: string, impl: string, params: Record<string, number>, metric: string): Summary | undefined {
  return summarize(
    runs(results, scenario, impl, params)
      .map((r) => r.metrics[metric]!)
      .filter((v) => v !== undefined),
  );
}

/** `cmd.xadd` → `xadd ×1`: a breakdown of one record's per-unit metrics with `prefix`. */
function breakdown(record: RunRecord | undefined, prefix: string): string {
  if (!record) return '–';
  return Object.entries(record.metrics)
    .filter(([k, v]) => k.startsWith(prefix) && v >= 0.005)
    .sort(([, a], [, b]) => b - a)
    .map(([k, v]) => `${k.slice(prefix.length)} ${Number.isInteger(v) ? v : v.toFixed(2)}`)
    .join(', ');
}

export function redisSection(results: BenchResults): string | undefined {
  const latency = results.records.filter((r) => r.scenario === 'redis-latency');
  if (latency.length === 0 && !results.records.some((r) => r.scenario.startsWith('redis-'))) return undefined;
  const shards = [...new Set(results.records.filter((r) => r.scenario.startsWith('redis-')).map((r) => r.params.shards!))].sort();
  const lines = [
    '## Redis: the hub against a raw ioredis Pub/Sub fan-out',
    '',
    "Two server processes of each on one `redis-server` of the run's own (WebSocket subscribers split between them; the first process publishes ~100-byte values). **raw**: `ioredis` `PUBLISH` on one channel, each process's subscriber connection writes every message to its sockets. **module**: `hub.publish()` (one script: history stream, epoch, topic index, `PUBLISH`) and `hub.stream()` per subscriber. Latency is publish → receipt, across processes. Commands are `INFO commandstats` over the whole run (those inside scripts included) divided by the publishes: the machine-independent cost. Medians, (min–max) over repetitions. This machine is shared and busy: read latency and throughput ratios as indications, and the command counts as exact.",
    '',
  ];
  for (const s of shards) {
    const grid = [
      ...new Map(
        latency.filter((r) => r.params.shards === s).map((r) => [`${r.params.instances}/${r.params.subscribers}/${r.params.rate}`, r.params]),
      ).values(),
    ];
    lines.push(
      ...(shards.length > 1 ? [`### ${s === 1 ? 'Single Redis' : `${s} shards`}`, ''] : []),
      '| instances × subscribers @ values/s | p50 µs raw / module | p99 µs raw / module | p99 module/raw | delivered/s raw / module (expected) | commands per publish raw / module (script calls) |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const p of grid) {
      const q = { shards: s, instances: p.instances!, subscribers: p.subscribers!, rate: p.rate! };
      const get = (impl: string, metric: string) => stat(results, 'redis-latency', impl, q, metric);
      lines.push(
        `| ${q.instances} × ${q.subscribers} @ ${q.rate} | ${cell(get('raw-redis', 'p50Us'))} / ${cell(get('module-redis', 'p50Us'))} | ${cell(get('raw-redis', 'p99Us'))} / ${cell(get('module-redis', 'p99Us'))} | ${ratio(get('module-redis', 'p99Us'), get('raw-redis', 'p99Us'))} | ${cell(get('raw-redis', 'deliveredPerSec'))} / ${cell(get('module-redis', 'deliveredPerSec'))} (${num(q.rate * q.subscribers)}) | ${cell(get('raw-redis', 'commandsPerPublish'), 2)} / ${cell(get('module-redis', 'commandsPerPublish'), 2)} (${cell(get('module-redis', 'scriptCallsPerPublish'), 2)}) |`,
      );
    }
    const flood = { shards: s, instances: 2, subscribers: 100 };
    const raw = stat(results, 'redis-broadcast', 'raw-redis', flood, 'deliveredPerSec');
    const mod = stat(results, 'redis-broadcast', 'module-redis', flood, 'deliveredPerSec');
    const publish = runs(results, 'redis-latency', 'module-redis', { shards: s }).at(-1);
    const cost = runs(results, 'redis-cost', 'module-redis', { shards: s }).at(-1);
    lines.push(
      '',
      `Broadcast, 2 instances × 100 subscribers, as fast as the slowest subscriber reads: raw ${cell(raw)} delivered/s, module ${cell(mod)}: **${ratio(mod, raw)}** of raw (commands per publish: raw ${cell(stat(results, 'redis-broadcast', 'raw-redis', flood, 'commandsPerPublish'), 2)}, module ${cell(stat(results, 'redis-broadcast', 'module-redis', flood, 'commandsPerPublish'), 2)}).`,
      '',
      `One module publish, by command: ${breakdown(publish, 'cmd.')}.`,
      '',
      ...(cost
        ? [
            `Module, per subscription (${cost.params.probes} of each, on WebSocket): first subscription of a topic on an instance **${num(cost.metrics.commandsPerFirstSubscribe, 2)}** commands (${breakdown(cost, 'first.')}); one more subscription to a topic the instance already streams **${num(cost.metrics.commandsPerSubscribe, 2)}** (${breakdown(cost, 'subscribe.') || 'none'}); a resume (a subscribe with a last event id) **${num(cost.metrics.commandsPerResume, 2)}** (${breakdown(cost, 'resume.') || 'none'}). The raw fan-out has no history: a subscription costs it no command, a resume is not possible.`,
            '',
          ]
        : []),
    );
  }
  return lines.join('\n');
}

/** The `redis` scenario's targets, for the report's checks: throughput, p99 and constant commands per publish. */
export function redisChecks(results: BenchResults): { target: string; measured: string; met: boolean | undefined }[] {
  if (!results.records.some((r) => r.scenario === 'redis-latency')) return [];
  const flood = { shards: 1, instances: 2, subscribers: 100 };
  const raw = stat(results, 'redis-broadcast', 'raw-redis', flood, 'deliveredPerSec');
  const mod = stat(results, 'redis-broadcast', 'module-redis', flood, 'deliveredPerSec');
  const thr = raw && mod ? mod.median / raw.median : NaN;
  const out = [
    {
      target: 'Redis, 2 instances × 100 subscribers: throughput ≥ 0.8× raw ioredis Pub/Sub',
      measured: Number.isFinite(thr) ? `${thr.toFixed(2)}×` : '–',
      met: Number.isFinite(thr) ? thr >= 0.8 : undefined,
    },
  ];
  for (const rate of [100, 1000]) {
    const q = { shards: 1, instances: 2, subscribers: 100, rate };
    const a = stat(results, 'redis-latency', 'module-redis', q, 'p99Us');
    const b = stat(results, 'redis-latency', 'raw-redis', q, 'p99Us');
    const r = a && b ? a.median / b.median : NaN;
    out.push({
      target: `Redis, 2 instances × 100 subscribers × ${rate}/s: p99 ≤ 1.3× raw`,
      measured: Number.isFinite(r) ? `${r.toFixed(2)}×` : '–',
      met: Number.isFinite(r) ? r <= 1.3 : undefined,
    });
  }
  const perPublish = results.records
    .filter((r) => r.scenario === 'redis-latency' && r.impl === 'module-redis' && r.params.shards === 1)
    .map((r) => r.metrics.commandsPerPublish!)
    .filter(Number.isFinite);
  const spread = perPublish.length ? Math.max(...perPublish) - Math.min(...perPublish) : NaN;
  out.push({
    target: 'Redis: commands per publish the same for 1 and 2 instances, 10 and 100 subscribers',
    measured: perPublish.length ? `${Math.min(...perPublish).toFixed(2)}–${Math.max(...perPublish).toFixed(2)} over ${perPublish.length} runs` : '–',
    met: Number.isFinite(spread) ? spread < 0.05 : undefined,
  });
  return out;
}
