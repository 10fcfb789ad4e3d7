/**
 * How many frames each transport's fast path wrote, and how many went the ordinary way; how
 * many subscriptions took the synchronous open path.
 *
 * The fast paths (SSE: pre-built HTTP chunks straight to the socket; WebSocket: pre-built
 * frames straight to the socket; gRPC: pre-framed messages straight to the HTTP/2 stream)
 * depend on Node, `ws` and grpc-js internals, reached through their doors in `lib/internals/`,
 * and fall back to the public API when those change shape. Tests read these counters so that a
 * silent fallback fails them (test/e2e/fast-paths.spec.ts), and each door's spec checks that a
 * changed shape is counted as a fallback (lib/internals/*.spec.ts).
 * Process-wide, never reset: read the difference around what you measure. Not public API.
 */
export const writePaths = {
  /** SSE events written as chunks straight to the socket. */
  sseDirect: 0,
  /** SSE events written through `res.write` (compression or another wrapper of `res.write`). */
  sseFallback: 0,
  /** WebSocket `next` frames written straight to the socket. */
  wsFrame: 0,
  /** WebSocket `next` frames written through `ws.send()` (a `ws` whose socket or sender is not the expected shape). */
  wsFallback: 0,
  /** gRPC messages written straight to the HTTP/2 stream. */
  grpcDirect: 0,
  /** gRPC messages written through grpc-js' `call.write` (server interceptors, unknown grpc-js shape, over the size limit). */
  grpcFallback: 0,
  /** Subscriptions opened on the synchronous path (no guards, interceptors, pipes or filters: `StreamInvoker.openDirect`). */
  openDirect: 0,
  /** Subscriptions opened through the full Nest pipeline (`StreamInvoker.open`). */
  openPipeline: 0,
};
