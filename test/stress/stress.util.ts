import { appendFileSync, readdirSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { inject } from 'vitest';
import { until } from '../harness/util.js';

/** One measured figure of a scenario, as the summary table prints it. */
export interface StressFigure {
  scenario: string;
  transport: string;
  figure: string;
  value: string;
  limit: string;
  ok: boolean;
}

/** `short` (CI, a few minutes on 2 cores) or `full` (on demand: the full counts). */
export const MODE: 'short' | 'full' = inject('stressMode') ?? 'short';

/** A count by mode. */
export function byMode<T>(short: T, full: T): T {
  return MODE === 'full' ? full : short;
}

/** Records a figure for the summary table; returns `ok` so a test can assert on it. */
export function record(figure: StressFigure): boolean {
  appendFileSync(inject('stressResults'), `${JSON.stringify(figure)}\n`);
  return figure.ok;
}

/** Open file descriptors of this process (Linux). */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * Forces full collections (the stress config runs workers with --expose-gc), then the used
 * heap without V8's code spaces: compiled code keeps growing while the JIT optimises more
 * functions (heap snapshots of the churn scenario show all of its growth there), which is not
 * memory retained by connections.
 */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (vitest.stress.config.ts does)');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return getHeapSpaceStatistics()
    .filter((space) => !space.space_name.startsWith('code'))
    .reduce((sum, space) => sum + space.space_used_size, 0);
}

/** Polls until `read()` is at most `target` (things close asynchronously); the last value. */
export async function settle(read: () => number, target: number, ms: number): Promise<number> {
  await until(() => read() <= target, ms, 'settle').catch(() => undefined); // the caller judges the value
  return read();
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const MiB = 1024 * 1024;
export const mib = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`;

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
