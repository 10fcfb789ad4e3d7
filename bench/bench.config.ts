/**
 * The bench's command line: which scenarios, transports and implementations run, how long and
 * how often. Read once by `run.ts`.
 */
const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const list = (name: string): string[] | undefined => arg(name)?.split(',');

export const quick = process.argv.includes('--quick');
export const only = list('only');
export const onlyTransports = list('transports');
export const onlyImpls = list('impls');
/** `--out=<dir>`: results go there instead of into bench/. */
export const outDir = arg('out');
/** `--baseline=<git ref>`: the module at that commit runs beside this tree's (implementation `baseline`). */
export const baselineRef = arg('baseline');

/** Durations and sizes: the full suite, or the quick one (one repetition, shorter windows). */
export const config = quick
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
      /** Per-subscriber handlers: subscribers × values/s of the rate run, and the flood run's window. */
      handlerSubscribers: 200,
      handlerRate: 100,
      handlerMs: 500,
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
      handlerSubscribers: 1000,
      handlerRate: 100,
      handlerMs: 1000,
      redis: { reps: 3, warmupMs: 150, windowMs: 800, floodMs: 1500, probes: 90 },
    };

const reps = arg('reps');
if (reps) config.reps = config.redis.reps = Number(reps);
/** `--latency-ms=<ms>`: a longer latency window (more samples per p99). */
const latencyMs = arg('latency-ms');
if (latencyMs) config.latencyMs = Number(latencyMs);
const fanout = list('fanout')?.map(Number);
if (fanout) {
  config.fanout = fanout;
  config.metricsFanout = fanout;
}

/**
 * Opt-in scenarios run only when `--only=` names them; `metrics` also when `--impls=` names
 * `module-metrics` or `module-nometrics` (which run nowhere else). In a quick run the
 * per-subscriber-handler scenarios are opt-in too, so that `--quick` stays under 2 minutes.
 */
const OPT_IN = quick ? ['metrics', 'handler', 'handler-flood'] : ['metrics'];
const metricsImplNamed = !!onlyImpls?.some((i) => i === 'module-metrics' || i === 'module-nometrics');
export const wanted = (scenario: string): boolean =>
  only ? only.includes(scenario) : !OPT_IN.includes(scenario) || (scenario === 'metrics' && metricsImplNamed);
export const wantedTransport = (transport: string): boolean => !onlyTransports || onlyTransports.includes(transport);
export const wantedImpl = (impl: string): boolean => !onlyImpls || onlyImpls.includes(impl);
