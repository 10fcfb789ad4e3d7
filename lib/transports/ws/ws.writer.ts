import { FRAME_OVERHEAD_BYTES, type StreamWriter } from '../../core/stream-writer.interface.js';
import type { StreamException } from '../../errors/stream-exception.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';
import { wsNextFrame, wsNextPrefix, wsResetFrame } from './ws.framing.js';

/** What a subscription writer needs from its connection. */
export interface WsSubscriptionHost {
  /** Sends a frame; `false` when the connection's send buffer is full. */
  send(frame: string): boolean;
  /** The subscription ended (complete or error): say so to the client and forget it. */
  finish(writer: WsSubscriptionWriter, error?: StreamException): void;
  /** The subscription cannot keep up: the connection is closed with 4429. */
  overflow(writer: WsSubscriptionWriter, error: StreamException): void;
}

/**
 * Writes one subscription into its (shared) WebSocket connection: each event becomes a
 * `next` message with this subscription's id around the event's once-serialised data.
 */
export class WsSubscriptionWriter implements StreamWriter<string> {
  private readonly prefix: string;
  private drainFn: (() => void) | undefined;
  private closeFn: (() => void) | undefined;

  constructor(
    private readonly host: WsSubscriptionHost,
    readonly subscriptionId: string,
  ) {
    this.prefix = wsNextPrefix(subscriptionId);
  }

  frame(event: StreamEvent): string {
    return event.kind === 'reset' ? wsResetFrame(this.subscriptionId, event) : wsNextFrame(this.prefix, event);
  }

  sizeOf(frame: string): number {
    return Buffer.byteLength(frame) + FRAME_OVERHEAD_BYTES;
  }

  write(frame: string): boolean {
    return this.host.send(frame);
  }

  onDrain(fn: () => void): void {
    this.drainFn = fn;
  }

  onClose(fn: () => void): void {
    this.closeFn = fn;
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
