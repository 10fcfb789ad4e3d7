import { fileURLToPath } from 'node:url';

/**
 * One implementation under test: it serves, on every transport, the broadcast stream (every
 * published value to every subscriber) and the hello stream (one value on subscribe, then
 * idle), and publishes.
 */
export interface BenchServer {
  /** Starts listening on 127.0.0.1, random ports. */
  start(): Promise<{ http: number; grpc: number }>;
  /** Sends one value to every broadcast subscriber on every transport. */
  publish(value: object): void;
  /**
   * The per-subscriber-handler scenario: every subscriber of the `own` stream gets a value of
   * its own (`make()` once per subscriber: a new object, serialised for that subscriber only).
   */
  emitOwn(make: () => object): void;
  /** Live broadcast subscriptions (all transports). */
  subscriptions(): number;
  /** Events the module's `longlink.events.delivered` instrument counted so far (only where an SDK is registered). */
  eventsCounted?(): Promise<number>;
  close(): Promise<void>;
}

/** The baselines' gRPC service (`proto/bench/v1/bench.proto`). */
export const BENCH_PROTO = fileURLToPath(new URL('../../../proto/bench/v1/bench.proto', import.meta.url));
