import { ClientProcess, cpuSeconds, sleep, type ServerProcess } from './bench.processes.js';
import type { BenchImpl, BenchTransport, ClientSpec } from './bench.protocol.js';

/** One measured run: the figures of one implementation on one transport in one scenario. */
export interface RunRecord {
  scenario: string;
  transport: BenchTransport;
  impl: BenchImpl;
  /** The scenario's parameters (N, rate, ...): with scenario and transport, what makes runs comparable. */
  params: Record<string, number>;
  rep: number;
  metrics: Record<string, number>;
  /** Something that makes this run's figures suspect (errors, closed subscribers). */
  warnings: string[];
}

const HOST = '127.0.0.1';

function spec(server: ServerProcess, transport: BenchTransport, impl: BenchImpl, extra: Partial<ClientSpec>): ClientSpec {
  return { transport, impl, host: HOST, ports: server.ports, mode: 'broadcast', subscribers: 1, ...extra };
}

function warningsOf(mark: Awaited<ReturnType<ClientProcess['mark']>>): string[] {
  const warnings: string[] = [];
  if (mark.sampleErrors > 0) warnings.push(`${mark.sampleErrors}/${mark.sampleChecks} sampled messages malformed`);
  if (mark.sampleChecks === 0 && mark.received > 0) warnings.push('no message sampled');
  if (mark.closedEarly > 0) warnings.push(`${mark.closedEarly} subscribers closed by the server`);
  if (mark.reopened > 0) warnings.push(`${mark.reopened} connections failed before their first value and were opened again`);
  return warnings;
}

/**
 * Waits until the server process is idle (under 5% of a core over 60 ms, at most 20 s): an
 * implementation still draining its last run must not share the CPU with the next one.
 */
export async function settle(server: ServerProcess): Promise<void> {
  const deadline = performance.now() + 20_000;
  let last = cpuSeconds(server.pid);
  while (performance.now() < deadline) {
    await sleep(60);
    const now = cpuSeconds(server.pid);
    if (now - last <= 0.003) return;
    last = now;
  }
}

/** Connects the client's subscribers and waits until each has a first value. */
async function connect(server: ServerProcess, client: ClientProcess, subscribers: number, own = false): Promise<void> {
  // Slow enough that thousands of subscribers are not a flood while they connect.
  await server.request({ cmd: 'warm', intervalMs: Math.max(10, Math.ceil(subscribers / 20)), own });
  try {
    await client.ready();
  } finally {
    await server.request({ cmd: 'quiet' });
  }
}

/** Server and client CPU between two marks, in % of one core. */
function cpuPercents(a: { serverCpu: number; clientCpu: number }, b: { serverCpu: number; clientCpu: number }, seconds: number) {
  return {
    serverCpuPct: ((b.serverCpu - a.serverCpu) / seconds) * 100,
    clientCpuPct: ((b.clientCpu - a.clientCpu) / seconds) * 100,
  };
}

/** Both processes' CPU seconds and the client's counters, at one instant. */
async function mark(server: ServerProcess, client: ClientProcess) {
  const serverCpu = cpuSeconds(server.pid);
  const clientCpu = cpuSeconds(client.pid);
  const at = performance.now();
  const counts = await client.mark();
  return { serverCpu, clientCpu, at, counts };
}

/**
 * Broadcast fan-out: N subscribers, the source publishing `perTurn` values per event-loop turn
 * as long as the slowest subscriber is less than `window` values behind.
 */
export async function broadcast(
  server: ServerProcess,
  transport: BenchTransport,
  impl: BenchImpl,
  o: { subscribers: number; perTurn: number; warmupMs: number; windowMs: number; rep: number; scenario: string; own?: boolean },
): Promise<RunRecord> {
  const own = o.own ?? false;
  const client = ClientProcess.start(spec(server, transport, impl, { mode: 'broadcast', subscribers: o.subscribers, own }));
  try {
    await connect(server, client, o.subscribers, own);
    await client.request({ cmd: 'reset' });
    // At most 20,000 values in flight in all (so that little is left to drain when the run
    // stops), between 20 and 1,000 per subscriber (more than a millisecond's worth: the client
    // reports every millisecond).
    const window = Math.max(20, Math.min(1000, Math.floor(20_000 / o.subscribers)));
    await server.request({ cmd: 'flood', perTurn: o.perTurn, window, own });
    await sleep(o.warmupMs);
    const a = await mark(server, client);
    await sleep(o.windowMs);
    const b = await mark(server, client);
    const stopped = await server.request({ cmd: 'stop' });
    const seconds = (b.at - a.at) / 1000;
    const delivered = b.counts.received - a.counts.received;
    // module-metrics: what its SDK counted since the server started (every run on it so far).
    const counted = stopped.type === 'ok' ? stopped.counted : undefined;
    const warnings = warningsOf(b.counts);
    if (counted !== undefined && counted < b.counts.received) {
      warnings.push(`longlink.events.delivered counted ${counted}, fewer than the ${b.counts.received} this run received`);
    }
    return {
      scenario: o.scenario,
      transport,
      impl,
      params: { subscribers: o.subscribers, perTurn: o.perTurn },
      rep: o.rep,
      metrics: {
        deliveredPerSec: delivered / seconds,
        serverUsPerDelivery: delivered > 0 ? ((b.serverCpu - a.serverCpu) * 1e6) / delivered : NaN,
        ...cpuPercents(a, b, seconds),
        ...(counted !== undefined ? { eventsCounted: counted } : {}),
      },
      warnings,
    };
  } finally {
    await server.request({ cmd: 'stop' }).catch(() => undefined);
    await client.close();
    await settle(server);
  }
}

/** Latency: 100 subscribers, `rate` values per second on a clock, publish → receipt. */
export async function latency(
  server: ServerProcess,
  transport: BenchTransport,
  impl: BenchImpl,
  o: {
    subscribers: number;
    rate: number;
    warmupMs: number;
    windowMs: number;
    rep: number;
    slow?: boolean;
    padBytes?: number;
    scenario: string;
    own?: boolean;
  },
): Promise<RunRecord> {
  const own = o.own ?? false;
  const client = ClientProcess.start(spec(server, transport, impl, { mode: 'latency', subscribers: o.subscribers, slow: o.slow ?? false, own }));
  try {
    await connect(server, client, o.subscribers, own);
    await server.request({ cmd: 'rate', rate: o.rate, padBytes: o.padBytes, own });
    await sleep(o.warmupMs);
    // Slow-consumer runs: memory after GC at both ends (what is retained), RSS once a second
    // without GC (what the machine sees), live subscriptions (is the slow one still there?).
    const first = await server.memory(o.slow !== undefined);
    await client.request({ cmd: 'reset' }); // after the forced GC: its pause is not a latency sample
    const start = first.rss;
    let max = start;
    let fewest = first.subscriptions;
    const a = await mark(server, client);
    const deadline = performance.now() + o.windowMs;
    while (performance.now() < deadline) {
      await sleep(Math.min(1000, deadline - performance.now()));
      const m = await server.memory(false);
      max = Math.max(max, m.rss);
      fewest = Math.min(fewest, m.subscriptions);
    }
    const b = await mark(server, client);
    const last = await server.memory(o.slow !== undefined);
    await server.request({ cmd: 'stop' });
    const seconds = (b.at - a.at) / 1000;
    const stats = b.counts.latency!;
    const delivered = b.counts.received - a.counts.received;
    return {
      scenario: o.scenario,
      transport,
      impl,
      params: {
        subscribers: o.subscribers,
        rate: o.rate,
        ...(o.padBytes ? { padBytes: o.padBytes } : {}),
        ...(o.slow !== undefined ? { slow: o.slow ? 1 : 0 } : {}),
      },
      rep: o.rep,
      metrics: {
        p50Us: stats.p50,
        p99Us: stats.p99,
        p999Us: stats.p999,
        maxUs: stats.max,
        deliveredPerSec: delivered / seconds,
        expectedPerSec: o.rate * o.subscribers,
        serverUsPerDelivery: delivered > 0 ? ((b.serverCpu - a.serverCpu) * 1e6) / delivered : NaN,
        ...cpuPercents(a, b, seconds),
        ...(o.slow !== undefined
          ? {
              rssGrowthBytes: max - start,
              retainedGrowthBytes: last.heapUsed + last.external - (first.heapUsed + first.external),
              subscriptionsAtStart: first.subscriptions,
              subscriptionsAtEnd: last.subscriptions,
              slowClosed: o.slow && Math.min(fewest, last.subscriptions) < first.subscriptions ? 1 : 0,
            }
          : {}),
      },
      warnings: warningsOf(b.counts),
    };
  } finally {
    await server.request({ cmd: 'stop' }).catch(() => undefined);
    await client.close();
    await settle(server);
  }
}

/** Idle memory: `subscribers` idle subscriptions on a fresh server; RSS and heap per subscription after GC. */
export async function idleMemory(
  server: ServerProcess,
  transport: BenchTransport,
  impl: BenchImpl,
  o: { subscribers: number; rep: number; scenario: string },
): Promise<RunRecord> {
  const before = await server.memory(true);
  const client = ClientProcess.start(spec(server, transport, impl, { mode: 'idle', subscribers: o.subscribers, streamsPerChannel: 100 }));
  try {
    await connect(server, client, o.subscribers);
    const after = await server.memory(true);
    const counts = await client.mark();
    return {
      scenario: o.scenario,
      transport,
      impl,
      params: { subscribers: o.subscribers },
      rep: o.rep,
      metrics: {
        rssPerSubBytes: (after.rss - before.rss) / o.subscribers,
        heapPerSubBytes: (after.heapUsed - before.heapUsed) / o.subscribers,
      },
      warnings: warningsOf(counts),
    };
  } finally {
    await client.close();
  }
}

/** Subscribe rate: `concurrency` loops of new connection → subscribe → first value → close. */
export async function subscribeRate(
  server: ServerProcess,
  transport: BenchTransport,
  impl: BenchImpl,
  o: { concurrency: number; warmupMs: number; windowMs: number; rep: number; scenario: string },
): Promise<RunRecord> {
  const client = ClientProcess.start(spec(server, transport, impl, { mode: 'hello', subscribers: 0, concurrency: o.concurrency }));
  try {
    await client.ready();
    await sleep(o.warmupMs);
    const a = await mark(server, client);
    await sleep(o.windowMs);
    const b = await mark(server, client);
    const seconds = (b.at - a.at) / 1000;
    const cycles = b.counts.cycles - a.counts.cycles;
    return {
      scenario: o.scenario,
      transport,
      impl,
      params: { concurrency: o.concurrency },
      rep: o.rep,
      metrics: {
        subscribesPerSec: cycles / seconds,
        serverUsPerSubscribe: cycles > 0 ? ((b.serverCpu - a.serverCpu) * 1e6) / cycles : NaN,
        ...cpuPercents(a, b, seconds),
      },
      warnings: warningsOf(b.counts),
    };
  } finally {
    await client.close();
    await settle(server);
  }
}
