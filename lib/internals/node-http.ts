/**
 * The one door to Node's HTTP internals: nothing else in the module writes under an
 * `http.ServerResponse`.
 *
 * Why: a broadcast SSE event is one pre-built HTTP/1.1 chunk (`<hex length>\r\n<event>\r\n`)
 * shared by every subscriber, written straight to the response's socket, skipping
 * `res.write()`'s per-call chunk header, copies and bookkeeping (`transports/sse/sse.writer.ts`).
 * That is only right when Node frames the response as chunked (`res.chunkedEncoding`,
 * undocumented), the head is already on the socket, and nothing wraps `res.write` (compression
 * or other middleware that transforms the body, recognised by comparing it with
 * `OutgoingMessage.prototype.write`). Then Node's own `res.end()` writes the terminating chunk
 * after ours.
 *
 * Checked per response ({@link directChunkSocket}): whether `res.write` is wrapped is up to
 * each request's middleware. Without the shape (no boolean `chunkedEncoding`, a wrapped
 * `res.write`, no socket) every event goes through `res.write()`, counted in
 * `writePaths.sseFallback` (test/e2e/fast-paths.spec.ts pins the direct path;
 * `node-http.spec.ts` beside this file mutates the shape).
 */
import { OutgoingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The socket to write pre-built chunks to, once the response's head and first chunk went
 * out through `res.write()`; `undefined` when events must go through `res.write()`.
 */
export function directChunkSocket(res: ServerResponse): Socket | undefined {
  const socket = res.socket;
  const chunked = (res as { chunkedEncoding?: unknown }).chunkedEncoding;
  if (!socket || chunked !== true || res.write !== OutgoingMessage.prototype.write) return undefined;
  return socket;
}
