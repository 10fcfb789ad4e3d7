import type { StreamHandle } from '../../core/pipe-to-writer.js';
import type { SubscriptionInput } from '../../core/input/subscription-input.js';
import { FRAME_OVERHEAD_BYTES, type StreamWriter } from '../../core/stream-writer.interface.js';
import type { StreamException } from '../../errors/stream-exception.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';
import { isNextTail, wsNextHead, wsNextPrefix, wsNextTail, wsResetFrame } from './ws.framing.js';

/** What a subscription writer needs from its connection. */
export interface WsSubscriptionHost {
  /** Writes a whole frame (or a frame's prefix and its tail); `false` when the connection's send buffer is full. */
  send(frame: Buffer, tail?: Buffer): boolean;
  /** The subscription ended (complete or error): say so to the client and forget it. */
  finish(writer: WsSubscriptionWriter, error?: StreamException): void;
  /** The subscription cannot keep up: the connection is closed with 4429. */
  overflow(writer: WsSubscriptionWriter, error: StreamException): void;
  /** The server holds the subscription now (pipeline accepted, source live): say so if the client asked. */
  accepted(writer: WsSubscriptionWriter): void;
}

/**
 * Writes one subscription into its (shared) WebSocket connection: each event becomes one
 * `next` text frame written in two parts, this subscription's frame header and head, and the
 * event's tail (built once per event, shared by every subscriber). The header depends only on
 * the tail's length, so the prefix is rebuilt only when that changes.
 */
export class WsSubscriptionWriter implements StreamWriter<Buffer> {
  private readonly head: Buffer;
  /** Frame header + head for tails of `prefixTailLength` bytes; built on the first write. */
  private prefix: Buffer | undefined;
  private prefixTailLength = 0;
  /** The running subscription (set by the connection once started). */
  handle: StreamHandle | undefined;
  /** Its client messages, for a two-way stream (set by the connection once started). */
  input: SubscriptionInput | undefined;
  private drainFn: (() => void) | undefined;
  private closeFn: (() => void) | undefined;

  constructor(
    private readonly host: WsSubscriptionHost,
    readonly subscriptionId: string,
    /** Whether the client asked for a `subscribed` message (`"ack": true`). */
    readonly ack = false,
    /** The stream's name (for messages about it). */
    readonly stream = '',
  ) {
    this.head = wsNextHead(subscriptionId);
  }

  frame(event: StreamEvent): Buffer {
    return event.kind === 'reset' ? wsResetFrame(this.subscriptionId, event) : wsNextTail(event);
  }

  sizeOf(frame: Buffer): number {
    return frame.length + (isNextTail(frame) ? this.head.length + 4 : 0) + FRAME_OVERHEAD_BYTES;
  }

  write(frame: Buffer): boolean {
    if (!isNextTail(frame)) return this.host.send(frame);
    if (this.prefix === undefined || frame.length !== this.prefixTailLength) {
      this.prefix = wsNextPrefix(this.head, frame.length);
      this.prefixTailLength = frame.length;
    }
    return this.host.send(this.prefix, frame);
  }

  onDrain(fn: () => void): void {
    this.drainFn = fn;
  }

  onClose(fn: () => void): void {
    this.closeFn = fn;
  }

  opened(): void {
    if (this.ack) this.host.accepted(this);
  }

  end(error?: StreamException): void {
    this.host.finish(this, error);
  }

  overflow(error: StreamException): void {
    this.host.overflow(this, error);
  }

  /** The connection can take more. */
  drained(): void {
    this.drainFn?.();
  }

  /** The client unsubscribed or the connection closed: tear the upstream down. */
  peerGone(): void {
    this.closeFn?.();
  }
}
