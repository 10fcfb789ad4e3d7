import type { Socket } from 'node:net';
import type { Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { writePaths } from '../../core/write-paths.js';
import { wsCloseReason } from '../../errors/error-bounds.js';
import type { ResolvedWsOptions } from '../../interfaces/longlink-options.interface.js';
import { wsDirectSocket } from '../../internals/ws.js';
import { turnBatcher, type TurnState } from '../shared/turn-batcher.js';
import { WsCloseCode } from '../../protocol/ws.protocol.js';
import { wsFramePayload } from './ws.framing.js';

/** Past this many bytes in the socket's buffer, writers hold further frames in their queues. */
export const WS_SEND_HIGH_WATER_BYTES = 64 * 1024;
/** How long a close handshake may take before the socket is terminated. */
export const WS_CLOSE_GRACE_MS = 1000;
const OPEN = 1;

/**
 * Everything a connection does on its socket: pre-built frames written straight to it (through
 * the `ws` door) with a turn's writes coalesced ({@link TurnState}), its own messages through
 * `ws.send()`, backpressure (the send buffer's high water mark; a peer past `maxBufferedBytes`
 * is closed with 4429), the heartbeat's pings, and the close handshake with its grace time.
 * The base of {@link WsConnection}: one object per connection, whatever its layers.
 */
export abstract class WsSender implements TurnState {
  /** Set from the first close on: nothing more is written. */
  protected closing = false;
  private blocked = false;
  /** The socket raw frames go to; `undefined`: `ws` is not the expected shape, frames go through `ws.send()`. */
  private readonly direct: Socket | undefined;
  /** When the next ping is due (ms, `Date.now()`). */
  private nextPingAt: number;
  /** When the unanswered ping was sent, if one is. */
  private pingSentAt: number | undefined;
  private terminateTimer: NodeJS.Timeout | undefined;
  /** Batching state ({@link TurnState}): on the connection itself, no object of its own. */
  turnWrites = 0;
  bursty = false;
  corked = false;

  constructor(
    protected readonly ws: WebSocket,
    readonly socket: Socket,
    protected readonly wsOptions: ResolvedWsOptions,
    protected readonly logger: Logger,
  ) {
    this.direct = wsDirectSocket(ws, socket);
    this.nextPingAt = Date.now() + wsOptions.heartbeatMs;
  }

  /** Tears every subscription down: the connection is closing. */
  protected abstract teardownAll(): void;

  /**
   * One beat of the transport's heartbeat timer: a ping every `heartbeatMs`; a peer that has
   * not answered one (pong or any message) `heartbeatTimeoutMs` after it was sent is cut.
   */
  heartbeat(now: number): void {
    if (this.closing) return;
    if (this.ws.isPaused) {
      // We stopped reading (a two-way stream's input is full): its pong could not be read.
      this.pingSentAt = undefined;
      return;
    }
    if (this.pingSentAt !== undefined) {
      if (now - this.pingSentAt >= this.wsOptions.heartbeatTimeoutMs) this.ws.terminate();
      return;
    }
    if (now < this.nextPingAt) return;
    this.nextPingAt = now + this.wsOptions.heartbeatMs;
    this.pingSentAt = now;
    this.ws.ping();
  }

  /** @internal The peer answered a ping or sent a message. */
  alive(): void {
    this.pingSentAt = undefined;
  }

  /**
   * Writes a pre-built frame, or a `next` frame's prefix and its shared tail: straight to the
   * socket (`ws` frames each send on its own), coalescing a turn's writes when the source is
   * fast ({@link TurnBatcher}); through `ws.send()` when the `ws` door found another shape.
   * `false` when the send buffer is past its high water mark.
   */
  send(frame: Buffer, tail?: Buffer): boolean {
    if (!this.writable()) return true; // closed or closing: the close handler tears everything down
    const socket = this.direct;
    if (socket === undefined) {
      if (tail !== undefined) writePaths.wsFallback++;
      const payload = wsFramePayload(frame);
      this.ws.send(tail === undefined ? payload : Buffer.concat([payload, tail]), { binary: false });
    } else {
      if (tail !== undefined) writePaths.wsFrame++;
      turnBatcher.beforeWrite(this);
      if (tail === undefined) {
        socket.write(frame);
      } else if (this.corked) {
        socket.write(frame);
        socket.write(tail);
      } else {
        socket.cork();
        socket.write(frame);
        socket.write(tail);
        socket.uncork();
      }
    }
    if (this.ws.bufferedAmount >= WS_SEND_HIGH_WATER_BYTES) this.blocked = true;
    return !this.blocked;
  }

  /**
   * The connection's own messages go out here. A peer that lets the socket buffer pass
   * `maxBufferedBytes` (not reading, while it keeps sending pings or subscribes) is closed
   * with 4429, so no frame, reply or event, can grow the server's memory without limit.
   */
  protected emit(text: string): boolean {
    if (!this.writable()) return false;
    this.ws.send(text);
    return true;
  }

  /** Whether frames may be written; closes a peer whose socket buffer passed `maxBufferedBytes`. */
  private writable(): boolean {
    if (this.closing || this.ws.readyState !== OPEN) return false;
    if (this.ws.bufferedAmount > this.wsOptions.maxBufferedBytes) {
      this.close(WsCloseCode.SLOW_CONSUMER, 'Slow consumer: send buffer limit exceeded');
      return false;
    }
    return true;
  }

  /** Whether writes are held (the send buffer passed its high water mark and has not drained). */
  protected get blockedNow(): boolean {
    return this.blocked;
  }

  /** The socket drained: `true` when writes were held and may go on now. */
  protected unblock(): boolean {
    if (!this.blocked || this.ws.bufferedAmount >= WS_SEND_HIGH_WATER_BYTES) return false;
    this.blocked = false;
    return true;
  }

  /** Tears all subscriptions down now, closes with `code`, terminates if the peer does not answer. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.teardownAll();
    try {
      // Cut by UTF-8 bytes: `ws` throws on a reason over 123 bytes.
      this.ws.close(code, wsCloseReason(reason));
    } catch (error) {
      this.logger.warn(`WebSocket close failed: ${error instanceof Error ? error.message : String(error)}`);
      this.ws.terminate();
    }
    this.terminateTimer = setTimeout(() => this.ws.terminate(), WS_CLOSE_GRACE_MS);
    this.terminateTimer.unref();
  }

  /** The socket closed: nothing more is written, no terminate is pending. */
  protected socketClosed(): void {
    this.closing = true;
    clearTimeout(this.terminateTimer);
  }
}
