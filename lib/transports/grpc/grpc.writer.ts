import type { Metadata, ServerWritableStream } from '@grpc/grpc-js';
import type { StreamWriter } from '../../core/stream-writer.interface.js';
import type { StreamException } from '../../errors/stream-exception.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';
import { GRPC_ERROR_CODE_TRAILER, GRPC_ERROR_DETAILS_TRAILER, GRPC_STATUS_BY_CODE } from './grpc.error-map.js';
import type { GrpcFrame } from './grpc.framing.js';

/** HTTP/2 RST_STREAM CANCEL. */
const NGHTTP2_CANCEL = 8;

/**
 * Writes one subscription into one gRPC server-streaming call: messages with
 * `call.write()` / `drain`, completion as status OK, errors as the mapped status plus the
 * `longlink-error-code` trailer.
 */
export class GrpcWriter implements StreamWriter<GrpcFrame> {
  private ended = false;

  constructor(
    private readonly call: ServerWritableStream<unknown, unknown>,
    private readonly toFrame: (event: StreamEvent) => GrpcFrame,
    private readonly MetadataClass: typeof Metadata,
    private readonly graceMs: number,
  ) {}

  /** Whether the call is already over (cancelled by the client or past its deadline). */
  get gone(): boolean {
    return this.call.cancelled || this.call.destroyed;
  }

  frame(event: StreamEvent): GrpcFrame {
    return this.toFrame(event);
  }

  sizeOf(frame: GrpcFrame): number {
    return frame.size;
  }

  write(frame: GrpcFrame): boolean {
    if (frame.message === undefined) return true;
    return this.call.write(frame.message);
  }

  onDrain(fn: () => void): void {
    this.call.on('drain', fn);
  }

  onClose(fn: () => void): void {
    if (this.gone) return void queueMicrotask(fn);
    // 'cancelled': client cancel, deadline, connection loss.
    this.call.once('cancelled', fn);
  }

  end(error?: StreamException): void {
    if (this.ended || this.gone) return;
    this.ended = true;
    if (!error) {
      this.call.end();
      return;
    }
    const trailers = new this.MetadataClass();
    trailers.set(GRPC_ERROR_CODE_TRAILER, error.code);
    const { details } = error.toJSON();
    if (details !== undefined) trailers.set(GRPC_ERROR_DETAILS_TRAILER, JSON.stringify(details));
    this.call.emit('error', { code: GRPC_STATUS_BY_CODE[error.code], details: error.message, metadata: trailers });
  }

  overflow(error: StreamException): void {
    this.end(error);
    // The status waits behind unread messages; a client that still does not read is cut.
    const timer = setTimeout(() => this.cancelStream(), this.graceMs);
    timer.unref();
    this.call.once('finish', () => clearTimeout(timer));
    this.call.once('cancelled', () => clearTimeout(timer));
  }

  /** Best effort: resets the HTTP/2 stream under the call (grpc-js keeps it private). */
  private cancelStream(): void {
    type Inner = { nextCall?: Inner; stream?: { close?: (code: number) => void } };
    let inner = (this.call as unknown as { call?: Inner }).call;
    for (let depth = 0; inner && !inner.stream && depth < 5; depth++) inner = inner.nextCall;
    inner?.stream?.close?.(NGHTTP2_CANCEL);
  }
}
