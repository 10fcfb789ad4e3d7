import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';

/** The refusal of a POST stream whose body did not arrive in time: `408`, code `BAD_REQUEST`. */
export class SseBodyTimeoutError extends StreamException {
  constructor(readonly timeoutMs: number) {
    super(StreamErrorCode.BAD_REQUEST, `Request body not received within ${timeoutMs} ms`, { timeoutMs });
  }
}

/** Route paths compare as Express and Fastify match them by default: case and a trailing slash aside. */
function normalise(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

function pathnameOf(url: string | undefined): string {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  return q < 0 ? raw : raw.slice(0, q);
}

/**
 * Bounds how long a POST stream's body may take to arrive (`sse.bodyTimeoutMs`), counted from
 * the request's first byte of handling: a client trickling its body would otherwise hold the
 * request (and whatever waits for it) until Node's `requestTimeout` (300 s).
 *
 * It listens on the HTTP server itself, before Express or Fastify, because their body parsers
 * read JSON bodies before any route handler runs. A request to a POST stream path whose body
 * has not ended in time is answered `408` (if nothing was sent yet) and its socket closed.
 */
export class SseBodyTimeout {
  private readonly paths = new Set<string>();
  /** Paths under which every path is watched (the client message endpoint: `<prefix>/<channel>`). */
  private readonly prefixes: string[] = [];
  private server: Server | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** A POST stream's route path (static paths only: stream routes have no parameters). */
  addPath(path: string): void {
    this.paths.add(normalise(path));
  }

  /** Every path one segment or more under `path`. */
  addPrefix(path: string): void {
    this.prefixes.push(`${normalise(path)}/`);
  }

  /** Starts watching `server`'s requests, if there is anything to watch. */
  attach(server: Server): void {
    if (this.timeoutMs <= 0 || (this.paths.size === 0 && this.prefixes.length === 0) || this.server) return;
    this.server = server;
    server.prependListener('request', this.onRequest);
  }

  detach(): void {
    this.server?.off('request', this.onRequest);
    this.server = undefined;
  }

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'POST' || req.complete) return;
    const path = normalise(pathnameOf(req.url));
    if (!this.paths.has(path) && !this.prefixes.some((p) => path.startsWith(p))) return;
    const timer = setTimeout(() => this.expire(req, res), this.timeoutMs);
    timer.unref();
    const clear = (): void => clearTimeout(timer);
    req.once('end', clear);
    req.once('close', clear);
    res.once('close', clear);
  };

  private expire(req: IncomingMessage, res: ServerResponse): void {
    if (req.complete || res.writableEnded) return;
    if (res.headersSent) return void res.destroy();
    const body = JSON.stringify(new SseBodyTimeoutError(this.timeoutMs).toJSON());
    res.writeHead(408, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    // The rest of the body is never read: the socket closes once the answer is out.
    res.end(body, () => req.socket.destroy());
  }
}
