/**
 * What the benchmark's processes say to each other. The orchestrator (`run.ts`) forks one
 * server process per implementation and one load-client process per run, and talks to both
 * over Node's IPC channel; the load client also tells the server how far it has read over a
 * plain TCP "credit" socket, so a broadcast source never runs more than a fixed window ahead
 * of its slowest subscriber (nothing is dropped, memory stays bounded, every implementation is
 * paced the same way).
 */

/** The three transports every scenario runs on. */
export type BenchTransport = 'sse' | 'ws' | 'grpc';
/**
 * The implementations compared: plain raw servers, Nest's own built-ins, this module; and
 * `express`, a raw SSE baseline on Express (SSE only; idle and subscribe scenarios only).
 * `module-nometrics` (`metrics.enabled: false`: `@opentelemetry/api` never loaded) and
 * `module-metrics` (a real `@opentelemetry/sdk-metrics` MeterProvider registered) are the
 * module again, for the opt-in `metrics` scenario only; `module` itself has the API installed
 * and no SDK registered. `baseline` is the module at another commit (`--baseline=<ref>`:
 * that commit's own bench server, serving `module`). `raw-limit` is the raw servers written
 * the fastest way (pre-framed, one write per subscriber per event-loop turn): the limit.
 * `raw-redis` (the raw servers fanned out over a raw `ioredis` Pub/Sub channel) and
 * `module-redis` (the module on its Redis hub) run in the `redis` scenario only, two
 * processes of each on one Redis.
 */
export type BenchImpl =
  'raw' | 'nest' | 'module' | 'express' | 'module-nometrics' | 'module-metrics' | 'baseline' | 'raw-limit' | 'raw-redis' | 'module-redis';

export const TRANSPORTS: readonly BenchTransport[] = ['sse', 'ws', 'grpc'];
export const IMPLS: readonly BenchImpl[] = ['raw', 'module', 'nest'];
/** The `metrics` scenario's implementations: the module without and with an OpenTelemetry SDK. */
export const METRICS_IMPLS: readonly BenchImpl[] = ['module', 'module-nometrics', 'module-metrics'];
/** The `redis` scenario's implementations: a raw ioredis Pub/Sub fan-out, and the module's Redis hub. */
export const REDIS_IMPLS: readonly BenchImpl[] = ['raw-redis', 'module-redis'];

/** Whether `impl` is nestjs-longlink (in any metrics configuration): the clients speak its protocol. */
export function isModuleImpl(impl: BenchImpl): boolean {
  return impl === 'module' || impl === 'module-nometrics' || impl === 'module-metrics' || impl === 'baseline' || impl === 'module-redis';
}

/** Whether `impl` serves the raw baselines' routes and gRPC service. */
export function isRawImpl(impl: BenchImpl): boolean {
  return impl === 'raw' || impl === 'raw-limit' || impl === 'raw-redis';
}

/** Where a server process listens. */
export interface ServerPorts {
  http: number;
  grpc: number;
  /** The credit socket: a load client writes "<min received>\n" lines to it. */
  control: number;
}

/**
 * Orchestrator → server. `own`: the values go to the per-subscriber-handler streams (each
 * subscription its own source and its own value objects, no hub) instead of the broadcast.
 */
export type ServerCommand =
  /** Publish one value every `intervalMs` until `quiet` (so every subscriber gets a first value). */
  | { cmd: 'warm'; intervalMs: number; own?: boolean }
  | { cmd: 'quiet' }
  /** Broadcast as fast as credit allows, `perTurn` values per event-loop turn, window `window` per subscriber. */
  | { cmd: 'flood'; perTurn: number; window: number; own?: boolean }
  /** Publish `rate` values per second on a clock (`padBytes`: size of the padding, default 56). */
  | { cmd: 'rate'; rate: number; padBytes?: number; own?: boolean }
  | { cmd: 'stop' }
  /** Reply with memory after `gc` forced collections (0: none). */
  | { cmd: 'mem'; gc: boolean }
  | { cmd: 'exit' };

/** Server → orchestrator. */
export type ServerReply =
  | { type: 'listening'; ports: ServerPorts }
  /**
   * `counted` (on `stop`, `module-metrics` only): `longlink.events.delivered` summed over its
   * data points, as the SDK collects it: proof that the instruments were live.
   */
  | { type: 'ok'; cmd: string; published?: number; counted?: number }
  | { type: 'mem'; rss: number; heapUsed: number; external: number; arrayBuffers: number; subscriptions: number }
  | { type: 'error'; message: string };

/** What a load client does. */
export interface ClientSpec {
  transport: BenchTransport;
  impl: BenchImpl;
  host: string;
  ports: ServerPorts;
  /** broadcast: count; latency: record publish→receipt; hello: connect/subscribe/first event loops. */
  mode: 'broadcast' | 'latency' | 'idle' | 'hello';
  subscribers: number;
  /** hello mode: concurrent connect+subscribe+first-event loops. */
  concurrency?: number;
  /** One extra subscriber that stops reading after its first value (slow consumer). */
  slow?: boolean;
  /** gRPC: streams per channel. */
  streamsPerChannel?: number;
  /**
   * A second server (the `redis` scenario's other instance): subscribers with an odd index
   * connect to it (WebSocket and SSE); credit still goes to `ports.control`, the publisher's.
   */
  altPorts?: ServerPorts;
  /** Subscribe to the per-subscriber-handler stream (`own`) instead of the broadcast topic. */
  own?: boolean;
}

/** Orchestrator → client. */
export type ClientCommand = { cmd: 'reset' } | { cmd: 'mark' } | { cmd: 'close' };

/** Client → orchestrator. */
export type ClientReply =
  /** Every subscriber has its first value (hello mode: connections are running). */
  | { type: 'ready' }
  | { type: 'ok'; cmd: string }
  | {
      type: 'mark';
      received: number;
      /** hello mode: completed connect+subscribe+first event cycles. */
      cycles: number;
      /** Publish → receipt latency (µs) of every value since the last reset (latency mode). */
      latency?: LatencyStats;
      sampleChecks: number;
      sampleErrors: number;
      closedEarly: number;
      /** Subscribers that failed before their first value and were opened again. */
      reopened: number;
      slowClosed: boolean;
    }
  | { type: 'error'; message: string };

/** Percentiles of a latency sample, microseconds. */
export interface LatencyStats {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** Microseconds on the system's monotonic clock: the same clock in every process on the machine. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

const pads = new Map<number, string>();

/**
 * The value every implementation publishes: about 100 bytes of JSON once serialised (more
 * with a bigger `padBytes`). `t` is the publish time (µs, {@link nowUs}) for latency; `seq`
 * and `pad` let a sample be checked.
 */
export function benchValue(seq: number, padBytes = 56): { t: number; seq: number; pad: string } {
  let pad = pads.get(padBytes);
  if (pad === undefined) pads.set(padBytes, (pad = 'x'.repeat(padBytes)));
  return { t: nowUs(), seq, pad };
}

/** Checks a sampled value's JSON text: what the client parses for one message in 1,000. */
export function checkBenchValue(json: string): boolean {
  try {
    const v = JSON.parse(json) as { t?: unknown; seq?: unknown; pad?: unknown };
    return typeof v.t === 'number' && typeof v.seq === 'number' && typeof v.pad === 'string' && /^x+$/.test(v.pad);
  } catch {
    return false;
  }
}

/** The stream name (module), route (SSE) and topic every broadcast subscribes to. */
export const BENCH_TOPIC = 'bench';
