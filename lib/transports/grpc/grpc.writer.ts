import type { Metadata, ServerWritableStream } from '@grpc/grpc-js';
import { MAX_ERROR_MESSAGE_BYTES, MAX_GRPC_DETAILS_TRAILER_BYTES, boundedText } from '../../errors/error-bounds.js';
import type { StreamWriter } from '../../core/stream-writer.interface.js';
import { writePaths } from '../../core/write-paths.js';
import { retryAfterMsOf, type StreamException } from '../../errors/stream-exception.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';
import { GRPC_ERROR_CODE_TRAILER, GRPC_ERROR_DETAILS_TRAILER, GRPC_RETRY_AFTER_TRAILER, GRPC_STATUS_BY_CODE } from '../../protocol/grpc.protocol.js';
import { GRPC_FRAME_OVERHEAD_BYTES, grpcWireMessage, type GrpcFrame } from './grpc.framing.js';
import {
  grpcCallCore,
  grpcWriteDirect,
  onGrpcStreamDrain,
  onceGrpcStreamClose,
  resetGrpcStream,
  type GrpcCallCore,
} from '../../internals/grpc-js.js';

/**
 * Writes one subscription into one gRPC server-streaming call, completion as status OK,
 * errors as the mapped status plus the `longlink-error-code` trailer.
 *
 * Messages are framed once per event (flag, length, protobuf bytes: {@link grpcWireMessage})
 * and written straight to the call's HTTP/2 stream (through `internals/grpc-js.ts`), skipping
 * grpc-js' per-call serialisation, copy and Writable layer. grpc-js' own `call.write()` is used instead when the call does not
 * have the expected shape (server interceptors, another grpc-js version) and for a message
 * over the send size limit (grpc-js then ends the call with RESOURCE_EXHAUSTED, as usual).
 */
export class GrpcWriter implements StreamWriter<GrpcFrame> {
  readonly frameOverheadBytes = GRPC_FRAME_OVERHEAD_BYTES;
  private ended = false;
  private readonly core: GrpcCallCore | undefined;

  constructor(
    private readonly call: ServerWritableStream<unknown, unknown>,
    private readonly toFrame: (event: StreamEvent) => GrpcFrame,
    private readonly MetadataClass: typeof Metadata,
    private readonly graceMs: number,
  ) {
    this.core = grpcCallCore(call);
  }

  /** Whether the call is already over (cancelled by the client or past its deadline). */
  get gone(): boolean {
    return this.call.cancelled || this.call.destroyed;
  }

  /** Whether nothing more can be written: the call was ended by this writer, or is over. */
  get done(): boolean {
    return this.ended || this.gone;
  }

  frame(event: StreamEvent): GrpcFrame {
    return this.toFrame(event);
  }

  sizeOf(frame: GrpcFrame): number {
    return frame.size;
  }

  write(frame: GrpcFrame): boolean {
    const { message } = frame;
    if (message === undefined) return true;
    const core = this.core;
    if (core && typeof message === 'object' && message !== null) {
      const ok = grpcWriteDirect(core, frame, grpcWireMessage);
      if (ok !== undefined) {
        writePaths.grpcDirect++;
        return ok;
      }
    }
    writePaths.grpcFallback++;
    return this.call.write(message);
  }

  onDrain(fn: () => void): void {
    this.call.on('drain', fn);
    if (this.core) onGrpcStreamDrain(this.core, fn);
  }

  onClose(fn: () => void): void {
    if (this.gone) return void queueMicrotask(fn);
    // 'cancelled': client cancel, deadline, connection loss.
    this.call.once('cancelled', fn);
  }

  /** The server holds the subscription: response headers now, so the client knows it (PROTOCOL.md §5.3). */
  opened(): void {
    if (this.ended || this.gone) return;
    this.call.sendMetadata(new this.MetadataClass());
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
    const detailsJson = details === undefined ? undefined : asciiJson(details);
    if (detailsJson !== undefined && detailsJson.length <= MAX_GRPC_DETAILS_TRAILER_BYTES) {
      trailers.set(GRPC_ERROR_DETAILS_TRAILER, detailsJson);
    }
    const retryAfterMs = retryAfterMsOf(error);
    if (retryAfterMs !== undefined) trailers.set(GRPC_RETRY_AFTER_TRAILER, String(retryAfterMs));
    // grpc-js percent-encodes the status message (grpc-message); it is bounded by bytes here.
    const message = boundedText(error.message, MAX_ERROR_MESSAGE_BYTES);
    this.call.emit('error', { code: GRPC_STATUS_BY_CODE[error.code], details: message, metadata: trailers });
  }

  overflow(error: StreamException): void {
    this.end(error);
    // The status waits behind unread messages; a client that still does not read is cut.
    const timer = setTimeout(() => this.cancelStream(), this.graceMs);
    timer.unref();
    const stop = (): void => clearTimeout(timer);
    // On the direct path the call's own Writable holds nothing and finishes at once: what the
    // client has not taken sits in the HTTP/2 stream, which closes once the status is through.
    if (this.core) onceGrpcStreamClose(this.core, stop);
    else this.call.once('finish', stop);
    this.call.once('cancelled', stop);
  }

  /** Best effort: resets the HTTP/2 stream under the call (through the grpc-js door). */
  private cancelStream(): void {
    resetGrpcStream(this.call, this.core);
  }
}

/**
 * JSON with every character outside printable ASCII escaped (`\uXXXX`): still the same JSON,
 * and a legal metadata value (grpc-js refuses others, which would leave the call without a status).
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
