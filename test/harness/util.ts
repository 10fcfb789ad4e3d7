import type { RawData } from 'ws';

/** A promise with its resolve/reject exposed. */
export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  settled: boolean;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const d: Deferred<T> = {
    promise,
    settled: false,
    resolve: (v) => {
      d.settled = true;
      resolve(v);
    },
    reject: (e) => {
      d.settled = true;
      reject(e);
    },
  };
  return d;
}

/** Resolves with `promise`'s value, or rejects if it takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The pause between two polls of `until`/`eventually`. */
const POLL_MS = 5;

/**
 * Polls `check` (sync or async) until it returns true; bounded by `ms`. For state without an
 * event to wait on. A check that throws fails at once; the deadline's error names `what` and
 * what the last check returned.
 */
export async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const result = await check();
    if (result) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms (last check: ${String(result)})`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Runs `attempt` (sync or async, typically `expect`s) until it stops throwing, and returns its
 * value; bounded by `ms`. At the deadline it throws the last failure, prefixed with `what`.
 */
export async function eventually<T>(attempt: () => T | Promise<T>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) {
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`${what}: not within ${ms} ms: ${message}`, { cause: error });
      }
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** A `ws` message as text (`ws` hands a text frame over as a Buffer, or as chunks or an ArrayBuffer when so configured). */
export function wsText(raw: RawData): string {
  return (Array.isArray(raw) ? Buffer.concat(raw) : Buffer.isBuffer(raw) ? raw : Buffer.from(raw)).toString('utf8');
}
