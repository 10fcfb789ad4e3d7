import * as echarts from 'echarts';
import { DEFAULT_MAX_QUEUE_BYTES } from '../lib/index.js';
import { IMPLS, TRANSPORTS, type BenchImpl, type BenchTransport } from './bench.protocol.js';
import type { RunRecord } from './bench.scenarios.js';
import { redisChecks, redisSection } from './redis.report.js';
import { baselineSection, handlerTable, latencySpread, limitTable } from './bench.compare.js';

/** Everything a run produced: `bench/results.json`. */
export interface BenchResults {
  date: string;
  quick: boolean;
  durationSec: number;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; platform: string; node: string };
  config: object;
  records: RunRecord[];
  /** Runs that failed (timed out, crashed): reported, not hidden. */
  failures: string[];
  /** `--baseline=<ref>`: the commit whose module ran as implementation `baseline`. */
  baseline?: { ref: string; commit: string };
}

/** Median and range of one metric over the repetitions of one configuration. */
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

/** The summary of `metric` for one implementation in one configuration. */
function stat(
  results: BenchResults,
  scenario: string,
  transport: BenchTransport,
  impl: BenchImpl,
  params: Record<string, number>,
  metric: string,
): Summary | undefined {
  const runs = results.records.filter(
    (r) => r.scenario === scenario && r.transport === transport && r.impl === impl && Object.entries(params).every(([k, v]) => r.params[k] === v),
  );
  return summarize(runs.map((r) => r.metrics[metric]).filter((v): v is number => v !== undefined));
}

function num(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const abs = Math.abs(v);
  if (abs >= 100_000) return `${(v / 1000).toFixed(0)}k`;
  if (abs >= 1000) return v.toFixed(0);
  if (abs >= 100) return v.toFixed(0);
  if (abs >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function cell(s: Summary | undefined, scale = 1): string {
  if (!s) return 'n/a';
  return s.n > 1 ? `${num(s.median / scale)} (${num(s.min / scale)}–${num(s.max / scale)})` : num(s.median / scale);
}

function ratio(a: Summary | undefined, b: Summary | undefined): number {
  return a && b && b.median !== 0 ? a.median / b.median : NaN;
}

function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '–';
}

const NAMES: Record<BenchImpl, string> = {
  raw: 'raw',
  module: 'nestjs-longlink',
  nest: 'Nest built-in',
  express: 'raw Express',
  'module-nometrics': 'nestjs-longlink, metrics off',
  'module-metrics': 'nestjs-longlink, metrics on (SDK)',
  'raw-redis': 'raw ioredis Pub/Sub',
  'module-redis': 'nestjs-longlink, Redis hub',
  baseline: 'nestjs-longlink at the baseline commit',
  'raw-limit': 'raw, fastest way (limit)',
};

/**
 * The `metrics` scenario (opt-in, `--only=metrics`): the module with the OpenTelemetry API and
 * no SDK, with metrics turned off, and with a real SDK MeterProvider, in the same interleaved
 * run; ratios against the first. `undefined` when the run had no such records.
 */
export function metricsSection(results: BenchResults): string | undefined {
  if (!results.records.some((r) => r.scenario === 'metrics' || r.scenario === 'metrics-latency')) return undefined;
  const fanout = [...new Set(results.records.filter((r) => r.scenario === 'metrics').map((r) => r.params.subscribers!))].sort((a, b) => a - b);
  const rows: Array<[string, string, Record<string, number>, string]> = [
    ...fanout.map((n): [string, string, Record<string, number>, string] => [
      'metrics',
      'serverUsPerDelivery',
      { subscribers: n },
      `server CPU µs per delivery, N=${n}`,
    ]),
    ...fanout.map((n): [string, string, Record<string, number>, string] => ['metrics', 'deliveredPerSec', { subscribers: n }, `delivered/s, N=${n}`]),
    ['metrics-latency', 'p99Us', { rate: 100 }, 'p99 µs, 100 × 100/s'],
    ['metrics-latency', 'p99Us', { rate: 1000 }, 'p99 µs, 100 × 1,000/s'],
    ['metrics-latency', 'deliveredPerSec', { rate: 1000 }, 'delivered/s at 100 × 1,000/s (100k: kept up)'],
  ];
  const lines = [
    '## Metrics cost (OpenTelemetry)',
    '',
    'The broadcast run above (20 values per turn) and the latency runs at 100 subscribers × 100 and 1,000 values/s, for the module in three configurations, interleaved: `@opentelemetry/api` installed and no SDK (`module`, the default when nothing registers a MeterProvider), `metrics.enabled: false` (the API never loaded), and a real `@opentelemetry/sdk-metrics` MeterProvider with a periodic reader collecting every second (`module-metrics`). Ratios are against the first.',
    '',
    '| transport | figure | API, no SDK | metrics off | metrics on (SDK) | off/no-SDK | on/no-SDK |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const transport of TRANSPORTS) {
    for (const [scenario, metric, params, label] of rows) {
      const base = stat(results, scenario, transport, 'module', params, metric);
      const off = stat(results, scenario, transport, 'module-nometrics', params, metric);
      const on = stat(results, scenario, transport, 'module-metrics', params, metric);
      if (!base && !off && !on) continue;
      lines.push(
        `| ${TRANSPORT_NAMES[transport]} | ${label} | ${cell(base)} | ${cell(off)} | ${cell(on)} | ${fmtRatio(ratio(off, base))} | ${fmtRatio(ratio(on, base))} |`,
      );
    }
  }
  lines.push('', '(median of the runs, (min–max) when there are several.)', '');
  return lines.join('\n');
}

/** SSE per-subscription figures beside the raw Express baseline: what Express itself costs. */
function expressTable(results: BenchResults, idleSubscribers: number): string {
  const rows: Array<[string, string, Record<string, number>, string, number]> = [
    ['idle', 'rssPerSubBytes', { subscribers: idleSubscribers }, 'idle RSS per subscription (KiB)', 1024],
    ['idle', 'heapPerSubBytes', { subscribers: idleSubscribers }, 'idle V8 heap per subscription (KiB)', 1024],
    ['subscribe', 'serverUsPerSubscribe', {}, 'server CPU per connect+subscribe+first event (µs)', 1],
  ];
  const lines = ['| SSE | raw `node:http` | raw Express | nestjs-longlink | Express/raw | module/Express |', '|---|---:|---:|---:|---:|---:|'];
  for (const [scenario, metric, params, label, scale] of rows) {
    const raw = stat(results, scenario, 'sse', 'raw', params, metric);
    const exp = stat(results, scenario, 'sse', 'express', params, metric);
    const mod = stat(results, scenario, 'sse', 'module', params, metric);
    if (!exp) continue;
    lines.push(
      `| ${label} | ${cell(raw, scale)} | ${cell(exp, scale)} | ${cell(mod, scale)} | ${fmtRatio(ratio(exp, raw))} | ${fmtRatio(ratio(mod, exp))} |`,
    );
  }
  return lines.length > 2 ? `${lines.join('\n')}\n` : '(no raw Express runs)\n';
}
const TRANSPORT_NAMES: Record<BenchTransport, string> = { sse: 'SSE', ws: 'WebSocket', grpc: 'gRPC' };

/** A table: one row per transport × configuration, each implementation's median (min–max), then the ratios. */
function table(
  results: BenchResults,
  scenario: string,
  metric: string,
  unit: string,
  configs: Array<Record<string, number>>,
  label: (params: Record<string, number>) => string,
  scale = 1,
): string {
  const lines = [
    `| transport | ${label({}) ? 'configuration' : ''} | raw | nestjs-longlink | Nest built-in | module/raw | module/Nest |`.replace('|  |', '| |'),
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const transport of TRANSPORTS) {
    for (const params of configs) {
      const s = Object.fromEntries(IMPLS.map((impl) => [impl, stat(results, scenario, transport, impl, params, metric)])) as Record<
        BenchImpl,
        Summary | undefined
      >;
      if (!s.raw && !s.module && !s.nest) continue;
      lines.push(
        `| ${TRANSPORT_NAMES[transport]} | ${label(params)} | ${cell(s.raw, scale)} | ${cell(s.module, scale)} | ${cell(s.nest, scale)} | ${fmtRatio(ratio(s.module, s.raw))} | ${fmtRatio(ratio(s.module, s.nest))} |`,
      );
    }
  }
  return `${lines.join('\n')}\n\n(${unit}; median of the runs, (min–max) when there are several.)\n`;
}

/** A target, checked against the figures. */
interface Check {
  target: string;
  measured: string;
  met: boolean | undefined;
}

function checks(results: BenchResults): Check[] {
  const out: Check[] = [];
  const n100 = { subscribers: 100 };
  const cpu = (t: BenchTransport, impl: BenchImpl, scenario = 'broadcast') => stat(results, scenario, t, impl, n100, 'serverUsPerDelivery');
  const thr = (t: BenchTransport, impl: BenchImpl, scenario = 'broadcast') => stat(results, scenario, t, impl, n100, 'deliveredPerSec');
  const verdict = (r: number, limit: number, atMost: boolean): boolean | undefined =>
    Number.isFinite(r) ? (atMost ? r <= limit : r >= limit) : undefined;

  const wsRaw = ratio(cpu('ws', 'module'), cpu('ws', 'raw'));
  const wsNest = ratio(cpu('ws', 'module'), cpu('ws', 'nest'));
  out.push({
    target: "WS broadcast N=100, 20 values per turn: server CPU per delivery ≤ 1/3 of the plain raw loop and of Nest's gateway",
    measured: `${fmtRatio(wsRaw)} of raw, ${fmtRatio(wsNest)} of Nest`,
    met: verdict(Math.max(wsRaw, wsNest), 1 / 3, true),
  });
  const turn = ratio(thr('ws', 'module', 'broadcast-turn'), thr('ws', 'raw', 'broadcast-turn'));
  out.push({
    target: 'WS broadcast N=100, one value per turn: throughput ≥ 0.9× the plain raw loop',
    measured: `${fmtRatio(turn)} (CPU per delivery ${fmtRatio(ratio(cpu('ws', 'module', 'broadcast-turn'), cpu('ws', 'raw', 'broadcast-turn')))} of raw)`,
    met: verdict(turn, 0.9, false),
  });
  for (const t of ['sse', 'grpc'] as const) {
    const eff = ratio(cpu(t, 'raw'), cpu(t, 'module'));
    const through = ratio(thr(t, 'module'), thr(t, 'raw'));
    const client = stat(results, 'broadcast', t, 'module', n100, 'clientCpuPct');
    out.push({
      target: `${TRANSPORT_NAMES[t]} broadcast N=100: ≥ 1.0× the plain raw loop (primary: deliveries per server CPU second)`,
      measured: `${fmtRatio(eff)} per CPU second; throughput ${fmtRatio(through)}${client && client.median >= 90 ? ` (load client at ${num(client.median)}% CPU: client-bound)` : ''}`,
      met: verdict(eff, 1, false),
    });
  }
  for (const rate of [100, 1000]) {
    for (const t of TRANSPORTS) {
      const p = { subscribers: 100, rate };
      const r = ratio(stat(results, 'latency', t, 'module', p, 'p99Us'), stat(results, 'latency', t, 'raw', p, 'p99Us'));
      const binding = rate === 100 || t !== 'grpc';
      out.push({
        target: `${TRANSPORT_NAMES[t]} p99 latency, 100 subscribers × ${rate}/s: ≤ 1.2× raw${binding ? '' : ' (not a target: see below)'}`,
        measured: fmtRatio(r),
        met: binding ? verdict(r, 1.2, true) : undefined,
      });
    }
  }
  for (const t of TRANSPORTS) {
    const p = { subscribers: (results.config as { idleSubscribers: number }).idleSubscribers };
    const m = stat(results, 'idle', t, 'module', p, 'rssPerSubBytes');
    const r = stat(results, 'idle', t, 'raw', p, 'rssPerSubBytes');
    const x = ratio(m, r);
    out.push({
      target: `${TRANSPORT_NAMES[t]} idle memory per subscription (RSS): ≤ 1.3× raw`,
      measured: `${m ? num(m.median / 1024) : '–'} KiB vs ${r ? num(r.median / 1024) : '–'} KiB: ${fmtRatio(x)}`,
      met: verdict(x, 1.3, true),
    });
  }
  const limit = DEFAULT_MAX_QUEUE_BYTES;
  for (const t of TRANSPORTS) {
    const { control, slow } = slowPair(results, t);
    if (!control || !slow) continue;
    const extra = slow.metrics.retainedGrowthBytes! - control.metrics.retainedGrowthBytes!;
    const p99 = slow.metrics.p99Us! / control.metrics.p99Us!;
    out.push({
      target: `${TRANSPORT_NAMES[t]} slow consumer: memory retained beyond the run without it ≤ the ${limit / 1048576} MiB per-subscriber limit (+1 MiB slack); healthy p99 ≤ 1.5× that run's`,
      measured: `${extra >= 0 ? '+' : ''}${num(extra / 1048576)} MiB${slow.metrics.slowClosed ? ' (slow client disconnected)' : ' (slow client still connected at the end)'}; p99 ${fmtRatio(p99)}`,
      met: extra <= limit + 1048576 && p99 <= 1.5,
    });
  }
  return [...out, ...redisChecks(results)];
}

/** The slow-consumer runs of one transport: without (control) and with the stopped reader. */
function slowPair(results: BenchResults, t: BenchTransport): { control?: RunRecord; slow?: RunRecord } {
  const runs = results.records.filter((r) => r.scenario === 'slow' && r.transport === t && r.impl === 'module');
  return { control: runs.find((r) => r.params.slow === 0), slow: runs.find((r) => r.params.slow === 1) };
}

/** `bench/RESULTS.md`. */
export function renderReport(results: BenchResults): string {
  const m = results.machine;
  const c = results.config as { idleSubscribers: number; fanout: number[]; reps: number };
  const warnings = results.records.filter((r) => r.warnings.length > 0);
  const fanout = c.fanout.map((subscribers) => ({ subscribers }));
  const parts = [
    '# Benchmark results',
    '',
    `Generated by \`npm run bench${results.quick ? ' -- --quick' : ''}\` on ${results.date.slice(0, 16).replace('T', ' ')} UTC in ${results.durationSec.toFixed(0)} s.` +
      `${results.quick ? ' **Quick run: one repetition, short windows; not for comparisons.**' : ''}`,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}; Node ${m.node}. ` +
      `Each figure is the median of ${c.reps} interleaved runs, (min–max) beside it. How the suite works: [README](README.md).`,
    '',
    '![server CPU per delivery and throughput](chart.svg)',
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...checks(results).map((k) => `| ${k.target} | ${k.measured} | ${k.met === undefined ? '–' : k.met ? 'yes' : '**no**'} |`),
    '',
    '## Broadcast fan-out',
    '',
    'One topic, N subscribers, ~100-byte JSON values, 20 values per event-loop turn as long as the slowest subscriber is fewer than clamp(20000/N, 20, 1000) values behind.',
    '',
    '### Server CPU per delivered message (primary)',
    '',
    table(results, 'broadcast', 'serverUsPerDelivery', 'µs of server CPU per delivered message; lower is better', fanout, (p) =>
      p.subscribers ? `N=${p.subscribers}` : '',
    ),
    '### Distance to the limit',
    '',
    'The limit: the raw servers written the fastest way (`servers/raw-limit.server.ts`: each value framed once into the bytes every socket gets, sockets corked from their first write in a turn to the next tick, gRPC messages pre-encoded). Ratios are per repetition, median [95% bootstrap interval].',
    '',
    limitTable(results),
    '### Delivered messages per second',
    '',
    table(results, 'broadcast', 'deliveredPerSec', 'messages/s summed over subscribers', fanout, (p) => (p.subscribers ? `N=${p.subscribers}` : '')),
    '### Server and client CPU',
    '',
    table(results, 'broadcast', 'serverCpuPct', 'server process CPU, % of one core', fanout, (p) => (p.subscribers ? `N=${p.subscribers}` : '')),
    table(
      results,
      'broadcast',
      'clientCpuPct',
      'load client process CPU, % of one core: near 100 means the client, not the server, set the pace',
      fanout,
      (p) => (p.subscribers ? `N=${p.subscribers}` : ''),
    ),
    '### One value per event-loop turn (WebSocket, N=100)',
    '',
    table(results, 'broadcast-turn', 'deliveredPerSec', 'messages/s', [{ subscribers: 100 }], () => 'N=100'),
    table(results, 'broadcast-turn', 'serverUsPerDelivery', 'µs of server CPU per delivered message', [{ subscribers: 100 }], () => 'N=100'),
    table(results, 'broadcast-turn', 'clientCpuPct', 'load client CPU, % of one core', [{ subscribers: 100 }], () => 'N=100'),
    '## Latency',
    '',
    "100 subscribers, values published on a clock; publish → receipt on the machine's monotonic clock.",
    '',
    ...(['p50Us', 'p99Us', 'p999Us'] as const).flatMap((metric) => [
      `### ${metric.replace('Us', '').replace('p999', 'p99.9')}`,
      '',
      table(results, 'latency', metric, 'µs', [{ rate: 100 }, { rate: 1000 }], (p) => (p.rate ? `${p.rate}/s` : '')),
    ]),
    '### p99 spread',
    '',
    "Each implementation's p99 over the repetitions: median [95% bootstrap interval] (n = repetitions); the module's ratio per repetition (its run and raw's ran one after the other), median [95% bootstrap interval]. A ratio whose interval holds 1.2× does not settle the ≤ 1.2× target either way.",
    '',
    latencySpread(results),
    '### Delivered messages per second (expected: 100 × rate)',
    '',
    table(
      results,
      'latency',
      'deliveredPerSec',
      'messages/s; below 100 × rate means the server could not keep up',
      [{ rate: 100 }, { rate: 1000 }],
      (p) => (p.rate ? `${p.rate}/s` : ''),
    ),
    '## Per-subscriber handlers (no hub)',
    '',
    "Each subscription gets its own Observable and its own value objects (as LLM token streams and per-user feeds do): the module's `bench/own` handler against a raw loop writing each subscriber its own `JSON.stringify`. Many subscribers at a steady rate (p99 and CPU per delivery), and one subscriber as fast as it goes (20 values per turn while it keeps up).",
    '',
    handlerTable(results),
    '## Idle memory',
    '',
    `${c.idleSubscribers} idle subscriptions on a fresh server (WebSocket and SSE: one connection each; gRPC: channels of 100 streams), each having received one value; growth after forced GC, divided by the subscriptions.`,
    '',
    table(results, 'idle', 'rssPerSubBytes', 'KiB of RSS per subscription', [{}], () => '', 1024),
    table(results, 'idle', 'heapPerSubBytes', 'KiB of V8 heap per subscription', [{}], () => '', 1024),
    '## Subscribe rate',
    '',
    '100 concurrent loops of: new connection (gRPC: new channel), subscribe, first value, close.',
    '',
    table(results, 'subscribe', 'subscribesPerSec', 'completed cycles/s', [{}], () => ''),
    table(results, 'subscribe', 'serverUsPerSubscribe', 'µs of server CPU per cycle', [{}], () => ''),
    table(results, 'subscribe', 'clientCpuPct', 'load client CPU, % of one core', [{}], () => ''),
    '## SSE: what Express itself costs',
    '',
    "The raw SSE loop again, as an Express route (`servers/express.server.ts`), beside the raw `node:http` one and the module (which serves SSE through Nest's Express adapter): the same idle and subscribe runs.",
    '',
    expressTable(results, c.idleSubscribers),
    '## Slow consumer',
    '',
    `nestjs-longlink with its defaults (${DEFAULT_MAX_QUEUE_BYTES / 1048576} MiB queue per subscriber, policy \`disconnect\`): 100 healthy subscribers at 200 values/s of ~2 KB, first alone (${(results.config as { slowControlMs: number }).slowControlMs / 1000} s), then with one more subscriber that stops reading after its first value (${(results.config as { slowMs: number }).slowMs / 1000} s). One run each. "Retained": V8 heap plus external memory after forced GC, end minus start. "RSS": sampled every second without GC, highest minus first. "Disconnected": the server's live subscriptions fell below their count at the start.`,
    '',
    '| transport | retained growth without / with the slow client | RSS growth without / with | slow client disconnected | healthy p99 without / with |',
    '|---|---:|---:|---|---:|',
    ...TRANSPORTS.flatMap((t) => {
      const { control, slow } = slowPair(results, t);
      if (!control || !slow) return [];
      return [
        `| ${TRANSPORT_NAMES[t]} | ${num(control.metrics.retainedGrowthBytes! / 1048576)} / ${num(slow.metrics.retainedGrowthBytes! / 1048576)} MiB | ${num(control.metrics.rssGrowthBytes! / 1048576)} / ${num(slow.metrics.rssGrowthBytes! / 1048576)} MiB | ${slow.metrics.slowClosed ? 'yes' : 'no'} | ${num(control.metrics.p99Us!)} / ${num(slow.metrics.p99Us!)} µs |`,
      ];
    }),
    '',
    ...(metricsSection(results) ? [metricsSection(results)!] : []),
    ...(redisSection(results) ? [redisSection(results)!] : []),
    ...(baselineSection(results) ? [baselineSection(results)!] : []),
    '## Warnings',
    '',
    warnings.length === 0 && results.failures.length === 0
      ? 'None: every run completed, every sampled message parsed and checked, no subscriber was closed by a server during a run.'
      : [
          ...results.failures.map((f) => `- **failed run** ${f}`),
          ...warnings.map((r) => `- ${r.scenario} ${r.transport} ${r.impl} ${JSON.stringify(r.params)} #${r.rep}: ${r.warnings.join('; ')}`),
        ].join('\n'),
    '',
  ];
  return parts.join('\n');
}

/** `bench/chart.svg`: server CPU per delivery (top) and throughput (bottom) against N, one panel per transport. */
export function renderChart(results: BenchResults): string {
  const fanout = (results.config as { fanout: number[] }).fanout;
  const width = 960;
  const height = 560;
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  const colors: Record<BenchImpl, string> = {
    raw: '#7f7f7f',
    module: '#d62728',
    nest: '#1f77b4',
    express: '#2ca02c',
    'module-nometrics': '#ff9896',
    'module-metrics': '#9467bd',
    'raw-redis': '#bcbd22',
    'module-redis': '#8c564b',
    baseline: '#ff7f0e',
    'raw-limit': '#000000',
  };
  const grids = TRANSPORTS.flatMap((_, col) => [0, 1].map((row) => ({ left: 70 + col * 300, top: 90 + row * 235, width: 230, height: 160 })));
  const panel = (col: number, row: number): number => col * 2 + row;
  chart.setOption({
    animation: false,
    backgroundColor: '#ffffff',
    title: {
      text: 'Broadcast fan-out: module vs baselines (median of runs)',
      left: 'center',
      top: 6,
      textStyle: { fontSize: 15 },
    },
    legend: { top: 34, data: IMPLS.map((i) => NAMES[i]) },
    grid: grids,
    xAxis: grids.map((_, i) => ({
      type: 'category',
      gridIndex: i,
      data: fanout.map((n) => `N=${n}`),
      name: i % 2 === 1 ? 'subscribers' : '',
      nameLocation: 'middle',
      nameGap: 26,
    })),
    yAxis: grids.map((_, i) => ({
      type: 'log',
      gridIndex: i,
      name: i % 2 === 0 ? `${TRANSPORT_NAMES[TRANSPORTS[i >> 1]!]}: µs CPU / delivery` : 'deliveries / s',
      nameTextStyle: { fontSize: 11, align: 'left' },
      axisLabel: { fontSize: 10 },
    })),
    series: TRANSPORTS.flatMap((t, col) =>
      IMPLS.flatMap((impl) =>
        (['serverUsPerDelivery', 'deliveredPerSec'] as const).map((metric, row) => ({
          name: NAMES[impl],
          type: 'line',
          xAxisIndex: panel(col, row),
          yAxisIndex: panel(col, row),
          color: colors[impl],
          symbolSize: 6,
          data: fanout.map((subscribers) => {
            const s = stat(results, 'broadcast', t, impl, { subscribers }, metric);
            return s ? Number(s.median.toPrecision(4)) : null;
          }),
        })),
      ),
    ),
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}
