/**
 * The one door to `@grpc/grpc-js` internals: nothing else in the module reads a grpc-js call's
 * private members.
 *
 * Why: a broadcast event is framed once (flag, length, protobuf bytes) and the same bytes are
 * written to every subscriber's HTTP/2 stream, skipping grpc-js' per-call serialisation, copy
 * and Writable layer (`transports/grpc/grpc.writer.ts`). For that the writer needs the call's
 * core, `call.call` (a `BaseServerInterceptingCall`, not public API): its HTTP/2 `stream`, the
 * method's `handler.serialize`, `maxSendMessageSize` (to leave oversize messages to grpc-js'
 * own RESOURCE_EXHAUSTED), and `maybeSendMetadata()` (the response headers go before the first
 * message). A paused client past the grace time is cut by resetting that same HTTP/2 stream.
 *
 * Checked per call ({@link grpcCallCore}): a server interceptor gives the call another shape,
 * so the answer is per call. Without the shape every message goes through grpc-js' public
 * `call.write()`, counted in `writePaths.grpcFallback` (test/e2e/fast-paths.spec.ts pins the
 * direct path; `grpc-js.spec.ts` beside this file mutates the shape).
 */
import type { ServerWritableStream } from '@grpc/grpc-js';

/** HTTP/2 RST_STREAM CANCEL. */
const NGHTTP2_CANCEL = 8;

/** What the writer uses of grpc-js' call core (grpc-js 1.10 to 1.14); read only in this file. */
export interface GrpcCallCore {
  stream: {
    write(chunk: Buffer): boolean;
    on(event: 'drain', fn: () => void): unknown;
    once(event: 'close', fn: () => void): unknown;
    close(code: number): void;
    destroyed: boolean;
  };
  handler: { serialize: (message: object) => Buffer };
  /** -1: no limit. */
  maxSendMessageSize: number;
  maybeSendMetadata(): void;
}

/** The call's core when it has the expected shape (no server interceptors, a known grpc-js), else `undefined`. */
export function grpcCallCore(call: ServerWritableStream<unknown, unknown>): GrpcCallCore | undefined {
  const core = (call as unknown as { call?: Partial<GrpcCallCore> }).call;
  if (
    core &&
    typeof core.stream?.write === 'function' &&
    typeof core.stream.on === 'function' &&
    typeof core.stream.once === 'function' &&
    typeof core.stream.close === 'function' &&
    typeof core.handler?.serialize === 'function' &&
    typeof core.maybeSendMetadata === 'function' &&
    typeof core.maxSendMessageSize === 'number'
  ) {
    return core as GrpcCallCore;
  }
  return undefined;
}

/**
 * Writes one message straight to the call's HTTP/2 stream: `encode` frames it with the
 * method's serializer (5-byte gRPC prefix included). `undefined` when it must go through
 * grpc-js' `call.write()` instead: the stream is destroyed, or the message is over the send
 * size limit (grpc-js then ends the call with RESOURCE_EXHAUSTED, as usual). Otherwise
 * whether the stream takes more.
 */
export function grpcWriteDirect<F>(
  core: GrpcCallCore,
  frame: F,
  encode: (frame: F, serialize: (message: object) => Buffer) => Buffer,
): boolean | undefined {
  if (core.stream.destroyed) return undefined;
  const wire = encode(frame, core.handler.serialize);
  if (core.maxSendMessageSize !== -1 && wire.length - 5 > core.maxSendMessageSize) return undefined;
  core.maybeSendMetadata();
  return core.stream.write(wire);
}

/** `fn` on every 'drain' of the call's HTTP/2 stream (the direct path bypasses the call's own Writable). */
export function onGrpcStreamDrain(core: GrpcCallCore, fn: () => void): void {
  core.stream.on('drain', fn);
}

/** `fn` once the call's HTTP/2 stream closes (what the client has not read sits there, not in the call). */
export function onceGrpcStreamClose(core: GrpcCallCore, fn: () => void): void {
  core.stream.once('close', fn);
}

/**
 * Best effort: resets the HTTP/2 stream under a call (grpc-js keeps it private). With
 * interceptors the stream sits a few `nextCall` links down the interceptor chain; nothing
 * happens if it is not found (the call then ends when its deadline or connection does).
 */
export function resetGrpcStream(call: ServerWritableStream<unknown, unknown>, core: GrpcCallCore | undefined): void {
  if (core) return void core.stream.close(NGHTTP2_CANCEL);
  type Inner = { nextCall?: Inner; stream?: { close?: (code: number) => void } };
  let inner = (call as unknown as { call?: Inner }).call;
  for (let depth = 0; inner && !inner.stream && depth < 5; depth++) inner = inner.nextCall;
  inner?.stream?.close?.(NGHTTP2_CANCEL);
}
