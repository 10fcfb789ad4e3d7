import http from 'node:http';
import { deferred } from './util.js';

/** A raw HTTP response read as text, for tests where the exact bytes matter. */
export class RawResponse {
  text = '';
  bytes = 0;
  readonly closed = deferred<void>();
  private waiters: { check: (text: string) => boolean; resolve: () => void }[] = [];

  constructor(
    readonly res: http.IncomingMessage,
    private readonly req: http.ClientRequest,
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.text += chunk;
      this.bytes += Buffer.byteLength(chunk);
      for (const w of [...this.waiters]) {
        if (w.check(this.text)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
    const done = () => this.closed.settled || this.closed.resolve();
    res.on('end', done);
    res.on('close', done);
    res.on('error', done);
    req.on('error', done);
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  /** Waits until the body read so far satisfies `check` (rejects if the response ends first or after `ms`). */
  async waitFor(check: (text: string) => boolean, ms = 5000): Promise<string> {
    if (check(this.text)) return this.text;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`waitFor: not within ${ms} ms; got ${JSON.stringify(this.text.slice(-300))}`)), ms);
      this.waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      void this.closed.promise.then(() => {
        clearTimeout(timer);
        if (!check(this.text)) reject(new Error(`response ended; got ${JSON.stringify(this.text.slice(-300))}`));
      });
    });
    return this.text;
  }

  /** Reads to the end. */
  async body(ms = 5000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed.promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`body: not ended within ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
    return this.text;
  }

  destroy(): void {
    this.req.destroy();
  }
}

/** GET with raw `http` (no agent keep-alive): resolves when the head arrives. */
export function rawGet(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => resolve(new RawResponse(res, req)));
    req.on('error', reject);
  });
}

/** Splits an SSE body into its events (blank-line separated field blocks, comments dropped). */
export function parseSse(text: string): { id?: string; event?: string; data?: string; retry?: string }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':') || line === '') continue;
        const colon = line.indexOf(':');
        const name = line.slice(0, colon);
        fields[name] = line.slice(colon + 1).replace(/^ /, '');
      }
      return fields;
    })
    .filter((f) => Object.keys(f).length > 0);
}

/**
 * Calls `on` with each SSE event's fields (`id`, `event`, `data`, `retry`) as its block arrives
 * on a response; a block may span chunks.
 */
export function onSseEvents(res: http.IncomingMessage, on: (fields: { id?: string; event?: string; data?: string; retry?: string }) => void): void {
  res.setEncoding('utf8');
  let buffer = '';
  res.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end + 2);
      buffer = buffer.slice(end + 2);
      for (const fields of parseSse(block)) on(fields);
    }
  });
}
