/**
 * The `redis` scenario: the module's Redis hub against a raw `ioredis` Pub/Sub fan-out, both as
 * two server processes on one Redis (WebSocket subscribers split between the two; the first
 * process publishes), measured in the same run, interleaved:
 *
 * The module's topic is filled to its history size first, so that every run measures the steady
 * state (a publish to a full topic also trims it).
 *
 * - `redis-latency`: values on a clock, publish → receipt p50/p99 and delivered/s across the
 *   instances, for 1 and 2 instances × 10 and 100 subscribers at 100 values/s, and 2 × 100 at
 *   1,000/s; with the Redis commands per publish (`INFO commandstats`, script-internal ones
 *   included) over the whole run;
 * - `redis-broadcast`: 2 instances × 100 subscribers, as fast as the slowest subscriber reads
 *   (the broadcast scenario's credit window): delivered/s;
 * - `redis-cost` (module only): Redis commands for the first subscription of a topic on an
 *   instance, for one more subscription to a live topic, and for a resume (a subscribe with a
 *   last event id).
 */
import WebSocket from 'ws';
import { ClientProcess, ServerProcess, sleep } from './bench.processes.js';
import { REDIS_IMPLS, type BenchImpl } from './bench.protocol.js';
import { settle, type RunRecord } from './bench.scenarios.js';
import { commandStats, resetCommandStats, startRedisTargets, sum, type RedisTarget } from './redis.target.js';

const HOST = '127.0.0.1';

export interface RedisBenchConfig {
  reps: number;
  warmupMs: number;
  windowMs: number;
  floodMs: number;
  /** Subscriptions per cost probe (subscribe, resume). */
  probes: number;
}

/** The grid of clocked runs: [instances, subscribers, values/s]. */
const GRID: readonly [number, number, number][] = [
  [1, 10, 100],
  [1, 100, 100],
  [2, 10, 100],
  [2, 100, 100],
  [2, 100, 1000],
];

/** Per-command calls per `unit`, as `cmd.<name>` metrics (the breakdown in results.json). */
function perUnit(counts: Map<string, number>, unit: number, prefix = 'cmd.'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of counts) out[`${prefix}${name}`] = unit > 0 ? n / unit : NaN;
  return out;
}

/** The commands a publish's round trips were: the module's publish is one script call, raw one PUBLISH. */
function scriptCalls(counts: Map<string, number>): number {
  return (counts.get('evalsha') ?? 0) + (counts.get('eval') ?? 0);
}

async function settleAll(servers: ServerProcess[]): Promise<void> {
  await Promise.all(servers.map((s) => settle(s)));
}

/** Connects `subscribers` split over the servers; resolves once each has a first value. */
async function connect(servers: ServerProcess[], client: ClientProcess, subscribers: number): Promise<void> {
  await servers[0]!.request({ cmd: 'warm', intervalMs: Math.max(10, Math.ceil(subscribers / 20)) });
  try {
    await client.ready();
  } finally {
    await servers[0]!.request({ cmd: 'quiet' });
  }
}

/** One clocked or flooded run on `instances` of the servers; Redis commands counted from the source's start to its stop. */
async function run(
  target: RedisTarget,
  all: ServerProcess[],
  impl: BenchImpl,
  o: { instances: number; subscribers: number; rate?: number; windowMs: number; warmupMs: number; rep: number },
): Promise<RunRecord> {
  const servers = all.slice(0, o.instances);
  const [a, b] = servers;
  const mode = o.rate ? 'latency' : 'broadcast';
  const client = ClientProcess.start({ transport: 'ws', impl, host: HOST, ports: a!.ports, altPorts: b?.ports, mode, subscribers: o.subscribers });
  try {
    await connect(servers, client, o.subscribers);
    await settleAll(servers);
    await resetCommandStats(target);
    if (o.rate) await a!.request({ cmd: 'rate', rate: o.rate });
    else await a!.request({ cmd: 'flood', perTurn: 20, window: Math.max(20, Math.min(1000, Math.floor(20_000 / o.subscribers))) });
    await sleep(o.warmupMs);
    await client.request({ cmd: 'reset' });
    const start = performance.now();
    const first = await client.mark();
    await sleep(o.windowMs);
    const last = await client.mark();
    const seconds = (performance.now() - start) / 1000;
    const stopped = await a!.request({ cmd: 'stop' });
    await settleAll(servers); // every publish answered before the count is read
    const counts = await commandStats(target);
    const published = stopped.type === 'ok' ? (stopped.published ?? 0) : 0;
    const stats = last.latency;
    const warnings: string[] = [];
    if (last.closedEarly > 0) warnings.push(`${last.closedEarly} subscribers closed by the server`);
    if (last.sampleErrors > 0) warnings.push(`${last.sampleErrors}/${last.sampleChecks} sampled messages malformed`);
    return {
      scenario: o.rate ? 'redis-latency' : 'redis-broadcast',
      transport: 'ws',
      impl,
      params: { shards: target.nodes.length, instances: o.instances, subscribers: o.subscribers, ...(o.rate ? { rate: o.rate } : {}) },
      rep: o.rep,
      metrics: {
        deliveredPerSec: (last.received - first.received) / seconds,
        ...(o.rate ? { expectedPerSec: o.rate * o.subscribers } : {}),
        ...(stats ? { p50Us: stats.p50, p99Us: stats.p99, p999Us: stats.p999 } : {}),
        published,
        commandsPerPublish: published > 0 ? sum(counts) / published : NaN,
        scriptCallsPerPublish: published > 0 ? scriptCalls(counts) / published : NaN,
        ...perUnit(counts, published),
      },
      warnings,
    };
  } finally {
    await a!.request({ cmd: 'stop' }).catch(() => undefined);
    await client.close();
    await settleAll(servers);
  }
}

/** A WebSocket connection of the orchestrator's own to the module, for the cost probes (at most `ws.maxSubscriptions`, 100, subscriptions each). */
class ProbeSocket {
  private readonly waiters = new Map<string, { type: string; resolve: (eventId?: string) => void; reject: (error: Error) => void }>();
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const m = JSON.parse((raw as Buffer).toString('utf8')) as { type: string; id?: string; eventId?: string; error?: { code: string } };
      const waiter = m.id === undefined ? undefined : this.waiters.get(m.id);
      if (!waiter || (m.type !== waiter.type && m.type !== 'error')) return;
      this.waiters.delete(m.id!);
      if (m.type === 'error') waiter.reject(new Error(`probe subscription ${m.id}: ${m.error?.code}`));
      else waiter.resolve(m.eventId);
    });
    ws.on('close', () => {
      for (const waiter of this.waiters.values()) waiter.reject(new Error('probe connection closed'));
      this.waiters.clear();
    });
  }

  static async open(server: ServerProcess): Promise<ProbeSocket> {
    const ws = new WebSocket(`ws://${HOST}:${server.ports.http}/ws`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
    return new ProbeSocket(ws);
  }

  /** Subscribes `id`; resolves on `until` (`subscribed`, or the first `next` with its event id), rejects on an error or after 30 s. */
  subscribe(id: string, until: 'subscribed' | 'next', lastEventId?: string): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    return new Promise<string | undefined>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`probe subscription ${id}: no ${until} within 30 s`)), 30_000);
      this.waiters.set(id, { type: until, resolve, reject });
      const stream = lastEventId ? 'bench/resume' : 'bench/topic';
      this.ws.send(JSON.stringify({ type: 'subscribe', id, stream, ack: until === 'subscribed', ...(lastEventId ? { lastEventId } : {}) }));
    }).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Redis commands per first subscription on an instance, per subscription to a live topic, per resume. */
async function costProbes(target: RedisTarget, server: ServerProcess, probes: number): Promise<RunRecord> {
  const sockets: ProbeSocket[] = [];
  const open = async () => {
    const socket = await ProbeSocket.open(server);
    sockets.push(socket);
    return socket;
  };
  try {
    const socket = await open();
    await settle(server);
    await resetCommandStats(target);
    await socket.subscribe('first', 'subscribed');
    const first = await commandStats(target);
    // An event to resume from, and at least one after it (a resume then reads history and
    // delivers; `subscribed` comes before that read, so resumes wait for their first event).
    const next = socket.subscribe('event', 'next');
    await server.request({ cmd: 'warm', intervalMs: 20 });
    const eventId = await next;
    await socket.subscribe('after', 'next');
    await server.request({ cmd: 'quiet' });
    await settle(server);
    const more = await open();
    await resetCommandStats(target);
    await Promise.all(Array.from({ length: probes }, (_, i) => more.subscribe(`s${i}`, 'subscribed')));
    const subscribe = await commandStats(target);
    const resumes = await open();
    await resetCommandStats(target);
    await Promise.all(Array.from({ length: probes }, (_, i) => resumes.subscribe(`r${i}`, 'next', eventId)));
    const resume = await commandStats(target);
    return {
      scenario: 'redis-cost',
      transport: 'ws',
      impl: 'module-redis',
      params: { shards: target.nodes.length, probes },
      rep: 0,
      metrics: {
        commandsPerFirstSubscribe: sum(first),
        commandsPerSubscribe: sum(subscribe) / probes,
        commandsPerResume: sum(resume) / probes,
        ...perUnit(first, 1, 'first.'),
        ...perUnit(subscribe, probes, 'subscribe.'),
        ...perUnit(resume, probes, 'resume.'),
      },
      warnings: [],
    };
  } finally {
    for (const socket of sockets) socket.close();
    await settle(server);
  }
}

/**
 * Publishes until the topic's history is full (`hub.historySize`, 1,000 by default): from then
 * on every publish also trims, so each run measures the steady state, whatever ran before.
 */
async function fillHistory(server: ServerProcess, historySize = 1000): Promise<void> {
  for (let published = 0; published < historySize;) {
    await server.request({ cmd: 'rate', rate: 5000 });
    await sleep(300);
    const stopped = await server.request({ cmd: 'stop' });
    published += stopped.type === 'ok' ? (stopped.published ?? 0) : 0;
  }
  await settle(server);
}

/** Sets the Redis the next forked server process uses (`BENCH_REDIS`, read by `server.main.ts`). */
function startServer(impl: BenchImpl, target: RedisTarget): Promise<ServerProcess> {
  const redis = impl === 'raw-redis' ? target.rawUrl : target.hubRedis;
  process.env.BENCH_REDIS = typeof redis === 'string' ? redis : JSON.stringify(redis);
  return ServerProcess.start(impl);
}

/**
 * Runs the scenario on every target; `attempt` records a run (or its failure), as the other
 * scenarios' runs are. Implementations alternate, the first one rotating between repetitions.
 */
export async function redisScenario(
  config: RedisBenchConfig,
  attempt: (what: string, run: () => Promise<RunRecord>) => Promise<void>,
  impls: readonly BenchImpl[] = REDIS_IMPLS,
): Promise<void> {
  let targets: RedisTarget[];
  try {
    targets = await startRedisTargets();
  } catch (error) {
    // No redis-server here: reported as a failed run, and the rest of the suite goes on.
    await attempt('redis: starting Redis', () => Promise.reject(error));
    return;
  }
  for (const target of targets) {
    const servers = new Map<BenchImpl, ServerProcess[]>();
    try {
      for (const impl of impls) servers.set(impl, [await startServer(impl, target), await startServer(impl, target)]);
      if (servers.has('module-redis')) await fillHistory(servers.get('module-redis')![0]!);
      for (let rep = 0; rep < config.reps; rep++) {
        const order = impls.map((_, i) => impls[(i + rep) % impls.length]!);
        for (const [instances, subscribers, rate] of GRID) {
          for (const impl of order) {
            await attempt(`redis-latency ${target.kind} ${impl} ${instances}×${subscribers}@${rate}`, () =>
              run(target, servers.get(impl)!, impl, { instances, subscribers, rate, windowMs: config.windowMs, warmupMs: config.warmupMs, rep }),
            );
          }
        }
        for (const impl of order) {
          await attempt(`redis-broadcast ${target.kind} ${impl}`, () =>
            run(target, servers.get(impl)!, impl, { instances: 2, subscribers: 100, windowMs: config.floodMs, warmupMs: config.warmupMs, rep }),
          );
        }
      }
      if (servers.has('module-redis')) {
        await attempt(`redis-cost ${target.kind}`, () => costProbes(target, servers.get('module-redis')![0]!, config.probes));
      }
    } finally {
      await Promise.all([...servers.values()].flat().map((s) => s.stop()));
      await target.stop();
    }
  }
}
