import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { retryAfterMsOf, type StreamException } from '../../errors/stream-exception.js';
import type { SseOptions } from '../../interfaces/longlink-options.interface.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';
import { FRAME_OVERHEAD_BYTES, type StreamWriter } from '../../core/stream-writer.interface.js';
import { writePaths } from '../../core/write-paths.js';
import { directChunkSocket } from '../../internals/node-http.js';
import { turnBatcher, type TurnState } from '../shared/turn-batcher.js';
import { HTTP_STATUS_BY_CODE, HttpHeader } from '../../protocol/http.protocol.js';
import type { SseBeating, SseHeartbeat } from './sse.heartbeat.js';
import { SSE_COMPLETE_FRAME, SSE_HEARTBEAT_FRAME, sseChunkedEventFrame, sseErrorFrame, sseEventFrame, sseRetryFrame } from './sse.framing.js';

/** Response headers of every event stream. */
const STREAM_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  // no-transform: compression() and proxies must not buffer the stream.
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/** `compression()` adds `flush()` to the response. */
type FlushableResponse = ServerResponse & { flush?: () => void };

/**
 * Writes one subscription to one HTTP response. The response head is held while the
 * pipeline decides (guards, interceptors, pipes, the handler's first subscription, however
 * long they take), then until the first event, the end of the stream, or `commitDelayMs`
 * after {@link opened}, so that a refusal gets a real status and an empty stream a 204.
 */
export class SseWriter implements StreamWriter<Buffer>, TurnState, SseBeating {
  private committed = false;
  private ended = false;
  /** The socket events are written to directly (chunked response, `res.write` not wrapped). */
  private direct: Socket | undefined;
  private drainFn: (() => void) | undefined;
  private closeFn: (() => void) | undefined;
  private commitTimer: NodeJS.Timeout | undefined;
  /** Armed while a write waits for the socket to drain; cuts the response when it fires. */
  private stallTimer: NodeJS.Timeout | undefined;
  /** Batching state of the direct socket ({@link TurnState}), on the writer itself. */
  turnWrites = 0;
  bursty = false;
  corked = false;

  constructor(
    private readonly res: FlushableResponse,
    private readonly options: Required<SseOptions>,
    private readonly heartbeat?: SseHeartbeat,
  ) {
    // The one 'close' listener: timers, the socket's drain listener (the socket outlives the
    // response on keep-alive; 'close' follows 'finish' there too), and the pump.
    res.once('close', () => {
      this.stopTimers();
      if (this.direct && this.drainFn) this.direct.off('drain', this.drainFn);
      this.closeFn?.();
    });
  }

  /** The direct socket, for the batcher ({@link TurnState}); set once committed on the direct path. */
  get socket(): Socket {
    return this.direct!;
  }

  /** Whether the peer is already gone. */
  get gone(): boolean {
    return this.res.destroyed || !this.res.socket || this.res.socket.destroyed;
  }

  /**
   * The event's frame. Once the head is sent on a plain chunked response (no compression or
   * other wrapper of `res.write`), frames are pre-built HTTP chunks shared by every subscriber
   * and go straight to the socket (see {@link write}).
   */
  frame(event: StreamEvent): Buffer {
    this.commit();
    return this.direct ? sseChunkedEventFrame(event) : sseEventFrame(event);
  }

  sizeOf(frame: Buffer): number {
    return frame.length + FRAME_OVERHEAD_BYTES;
  }

  /**
   * Writes one event frame; on the direct path straight to the socket, coalescing a turn's
   * writes when the source is fast ({@link TurnBatcher}).
   */
  write(frame: Buffer): boolean {
    this.commit();
    const socket = this.direct;
    if (socket) {
      // A destroyed socket takes nothing; its close ends the subscription.
      if (socket.destroyed) return true;
      turnBatcher.beforeWrite(this);
      writePaths.sseDirect++;
      return this.watchStall(socket.write(frame));
    }
    writePaths.sseFallback++;
    const ok = this.res.write(frame);
    this.res.flush?.();
    return this.watchStall(ok);
  }

  /**
   * A write that filled the buffer arms the stall timer: if the socket has not drained when it
   * fires, the peer stopped reading and the response is cut (its close ends the subscription).
   */
  private watchStall(ok: boolean): boolean {
    const ms = this.options.stallTimeoutMs;
    if (ok || ms <= 0 || this.stallTimer) return ok;
    const target = this.direct ?? this.res;
    const drained = (): void => {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    };
    target.once('drain', drained);
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      target.off('drain', drained);
      if (target.writableNeedDrain) this.res.destroy();
    }, ms);
    this.stallTimer.unref();
    return ok;
  }

  onDrain(fn: () => void): void {
    this.drainFn = fn;
    this.res.on('drain', fn);
  }

  onClose(fn: () => void): void {
    if (this.gone) {
      queueMicrotask(fn);
      return;
    }
    this.closeFn = fn;
  }

  /**
   * The pipeline accepted the call: commits the head after `commitDelayMs` unless an event
   * or the end comes first. Until then no timer runs, so a slow guard decides the status.
   */
  opened(): void {
    if (this.committed || this.ended) return;
    this.commitTimer = setTimeout(() => this.commit(), this.options.commitDelayMs);
    this.commitTimer.unref();
  }

  /** Sends the 200 head and the `retry:` hint, and starts the heartbeat. */
  commit(): void {
    if (this.committed || this.ended) return;
    this.committed = true;
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const { res } = this;
    for (const [name, value] of Object.entries(STREAM_HEADERS)) res.setHeader(name, value);
    res.writeHead(200);
    res.socket?.setNoDelay(true);
    // Finds a peer whose host vanished even on an idle stream (not a stopped process: its kernel answers).
    if (this.options.tcpKeepAliveMs > 0) res.socket?.setKeepAlive(true, this.options.tcpKeepAliveMs);
    res.write(sseRetryFrame(this.options.retryMs));
    res.flush?.();
    // A plain chunked response: later events go straight to its socket (the Node HTTP door).
    const socket = directChunkSocket(res);
    if (socket) {
      this.direct = socket;
      // Removed by the 'close' listener: the socket outlives the response (keep-alive).
      if (this.drainFn) socket.on('drain', this.drainFn);
    }
    this.heartbeat?.add(this);
  }

  /** One heartbeat comment (from the transport's one timer), unless the buffer is full. */
  beat(): void {
    const { res } = this;
    if (!(this.direct ?? res).writableNeedDrain) {
      res.write(SSE_HEARTBEAT_FRAME);
      res.flush?.();
    }
  }

  /** Refuses before the stream starts with an explicit HTTP status (413 for an oversize POST body). */
  refuse(error: StreamException, status: number): void {
    if (this.ended || this.committed) return this.end(error);
    this.ended = true;
    this.stopTimers();
    if (this.gone || this.res.headersSent) return void this.res.destroy();
    this.answer(error, status);
  }

  private answer(error: StreamException, status: number): void {
    const body = JSON.stringify(error.toJSON());
    const retryAfterMs = retryAfterMsOf(error);
    this.res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(body),
      // Shutdown hand-over: HTTP's own hint too (whole seconds, rounded up).
      ...(retryAfterMs === undefined ? {} : { [HttpHeader.RETRY_AFTER]: String(Math.ceil(retryAfterMs / 1000)) }),
    });
    this.res.end(body);
  }

  end(error?: StreamException): void {
    if (this.ended) return;
    if (!this.committed) {
      this.ended = true;
      this.stopTimers();
      if (this.gone || this.res.headersSent) return void this.res.destroy();
      if (error) {
        this.answer(error, HTTP_STATUS_BY_CODE[error.code]);
      } else {
        // Nothing to send: 204 tells EventSource not to reconnect.
        this.res.writeHead(204, { 'cache-control': 'no-store' });
        this.res.end();
      }
      return;
    }
    if (!error) return this.finish(SSE_COMPLETE_FRAME);
    const retryAfterMs = retryAfterMsOf(error);
    // Shutdown hand-over: EventSource's own reconnect delay becomes the spread-out one.
    this.finish(retryAfterMs === undefined ? sseErrorFrame(error) : sseRetryFrame(retryAfterMs) + sseErrorFrame(error));
  }

  overflow(error: StreamException): void {
    if (!this.committed) return this.end(error);
    this.finish(sseErrorFrame(error));
  }

  /** Writes the last frame and ends; a peer that does not take it within the grace time is cut. */
  private finish(last: string): void {
    this.ended = true;
    this.stopTimers();
    const { res } = this;
    if (this.gone) return;
    res.end(last);
    if (!res.writableFinished) {
      const timer = setTimeout(() => res.destroy(), this.options.disconnectGraceMs);
      timer.unref();
      res.once('close', () => clearTimeout(timer));
      res.once('finish', () => clearTimeout(timer));
    }
  }

  private stopTimers(): void {
    clearTimeout(this.commitTimer);
    clearTimeout(this.stallTimer);
    this.commitTimer = this.stallTimer = undefined;
    this.heartbeat?.delete(this);
  }
}
