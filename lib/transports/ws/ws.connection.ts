import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { QueueBudget } from '../../core/pipe-to-writer.js';
import { StreamCallImpl } from '../../core/stream-call.js';
import type { StreamRegistry } from '../../core/stream-registry.js';
import type { StreamRunner } from '../../core/stream-runner.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { excerpt, wsCloseReason } from '../../errors/error-bounds.js';
import { StreamException, shuttingDownError } from '../../errors/stream-exception.js';
import type { ResolvedWsOptions } from '../../interfaces/longlink-options.interface.js';
import { WsCloseCode, wsInitRefusalCloseCode } from '../../protocol/ws.protocol.js';
import { WS_INIT_ACK_FRAME, WS_PONG_FRAME, wsCompleteFrame, wsErrorFrame, wsSubscribedFrame } from './ws.framing.js';
import { WsProtocolError, parseWsMessage, type WsClientMessage } from './ws.request.js';
import type { WsUpgradeRequest } from './ws.upgrade-request.js';
import { WsSubscriptionWriter, type WsSubscriptionHost } from './ws.writer.js';
import { turnBatcher, type TurnState } from '../shared/turn-batcher.js';

/** Past this many bytes in the socket's buffer, writers hold further frames in their queues. */
export const WS_SEND_HIGH_WATER_BYTES = 64 * 1024;
/** How long a close handshake may take before the socket is terminated. */
export const WS_CLOSE_GRACE_MS = 1000;
const OPEN = 1;


export type { WsUpgradeRequest };

/** Shared by every connection of one transport (one object, not one per connection). */
export interface WsConnectionDeps {
  registry: StreamRegistry;
  runner: StreamRunner;
  options: ResolvedWsOptions;
  /** The module's `maxParamsDepth`. */
  maxParamsDepth: number;
  logger: Logger;
  onClosed(connection: WsConnection): void;
  /**
   * Decides on the init message's payload (runs `ws.connectionGuard` when it is configured to
   * run after init): `undefined` accepts, an exception refuses (the connection is closed).
   */
  checkInit(request: WsUpgradeRequest, payload: Record<string, unknown> | undefined): Promise<StreamException | undefined>;
}

type SubscribeMessage = Extract<WsClientMessage, { type: 'subscribe' }>;

/** Where a `ws` socket and its `net.Socket` point back to their connection. */
const CONNECTION = Symbol('longlink.ws.connection');
type Owned = { [CONNECTION]?: WsConnection };
const owner = (emitter: unknown): WsConnection => (emitter as Owned)[CONNECTION]!;

// The listeners of every connection: shared functions that find their connection through
// `this` (the emitter), instead of five closures per connection.
function onWsMessage(this: WebSocket, data: unknown, isBinary: boolean): void {
  owner(this).onMessage(data as Buffer, isBinary);
}
function onWsPong(this: WebSocket): void {
  owner(this).alive();
}
function onWsError(this: WebSocket, error: Error): void {
  // Without an 'error' listener, an oversize frame would crash the process.
  owner(this).onError(error);
}
function onWsClose(this: WebSocket): void {
  owner(this).onClose();
}
function onSocketDrain(this: Socket): void {
  owner(this).onDrain();
}

/** Shared by every connection with no subscribe waiting (most of them); never written to. */
const NONE_WAITING: SubscribeMessage[] = [];

/**
 * Where the connection is with its init message (PROTOCOL.md §4.2): none yet, received and
 * being checked, answered with `init_ack`, or skipped (a subscribe came first; init optional).
 */
type InitState = 'none' | 'checking' | 'done' | 'skipped';

/**
 * One client connection: its subscriptions by client id, the protocol of PROTOCOL.md §4,
 * its heartbeat state (the transport's one timer drives {@link heartbeat}), and the
 * connection-wide send budget shared by its subscriptions.
 */
export class WsConnection implements WsSubscriptionHost, TurnState {
  private readonly subscriptions = new Map<string, WsSubscriptionWriter>();
  private readonly budget: QueueBudget;
  private invalidMessages = 0;
  private blocked = false;
  private closing = false;
  private isClosed = false;
  private closeWaiters: (() => void)[] | undefined;
  private drainCursor = 0;
  /** When the next ping is due (ms, `Date.now()`). */
  private nextPingAt: number;
  /** When the unanswered ping was sent, if one is. */
  private pingSentAt: number | undefined;
  private terminateTimer: NodeJS.Timeout | undefined;
  private initTimer: NodeJS.Timeout | undefined;
  private initState: InitState = 'none';
  /** The init message's payload: every subscription's `call.connectionParams`. */
  private connectionParams: Record<string, unknown> | undefined;
  /** Subscribes that arrived before the init was answered, in order. */
  private waiting: SubscribeMessage[] = NONE_WAITING;
  /** Batching state ({@link TurnState}): on the connection itself, no object of its own. */
  turnWrites = 0;
  bursty = false;
  corked = false;

  constructor(
    private readonly ws: WebSocket,
    readonly socket: Socket,
    private readonly request: WsUpgradeRequest,
    private readonly deps: WsConnectionDeps,
  ) {
    this.budget = new QueueBudget(deps.options.maxBufferedBytes);
    this.nextPingAt = Date.now() + deps.options.heartbeatMs;
    (ws as unknown as Owned)[CONNECTION] = this;
    (socket as unknown as Owned)[CONNECTION] = this;
    ws.on('message', onWsMessage);
    ws.on('pong', onWsPong);
    ws.on('error', onWsError);
    socket.on('drain', onSocketDrain);
    ws.on('close', onWsClose); // emitted once
    if (deps.options.requireInit) {
      this.initTimer = setTimeout(() => {
        if (this.initState === 'none') this.close(WsCloseCode.INIT_TIMEOUT, 'Init message not received in time');
      }, deps.options.initTimeoutMs);
      this.initTimer.unref();
    }
  }

  /** Resolves when the socket is closed (made on demand: only shutdown waits for it). */
  get closed(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => (this.closeWaiters ??= []).push(resolve));
  }

  /**
   * One beat of the transport's heartbeat timer: a ping every `heartbeatMs`; a peer that has
   * not answered one (pong or any message) `heartbeatTimeoutMs` after it was sent is cut.
   */
  heartbeat(now: number): void {
    if (this.closing) return;
    if (this.pingSentAt !== undefined) {
      if (now - this.pingSentAt >= this.deps.options.heartbeatTimeoutMs) this.ws.terminate();
      return;
    }
    if (now < this.nextPingAt) return;
    this.nextPingAt = now + this.deps.options.heartbeatMs;
    this.pingSentAt = now;
    this.ws.ping();
  }

  /** @internal The peer answered a ping or sent a message. */
  alive(): void {
    this.pingSentAt = undefined;
  }

  /** Number of active subscriptions. */
  get size(): number {
    return this.subscriptions.size;
  }

  /**
   * Writes pre-built frames straight to the socket (`ws` frames each send on its own),
   * coalescing a turn's writes when the source is fast ({@link TurnBatcher}).
   */
  send(frame: Buffer, tail?: Buffer): boolean {
    if (!this.writable()) return true; // closed or closing: the close handler tears everything down
    const socket = this.socket;
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
    if (this.ws.bufferedAmount >= WS_SEND_HIGH_WATER_BYTES) this.blocked = true;
    return !this.blocked;
  }

  /** Whether frames may be written; closes a peer whose socket buffer passed `maxBufferedBytes`. */
  private writable(): boolean {
    if (this.closing || this.ws.readyState !== OPEN) return false;
    if (this.ws.bufferedAmount > this.deps.options.maxBufferedBytes) {
      this.close(WsCloseCode.SLOW_CONSUMER, 'Slow consumer: send buffer limit exceeded');
      return false;
    }
    return true;
  }

  /**
   * Every frame goes out here. A peer that lets the socket buffer pass `maxBufferedBytes`
   * (not reading, while it keeps sending pings or subscribes) is closed with 4429, so no
   * frame, reply or event, can grow the server's memory without limit.
   */
  private emit(frame: string): boolean {
    if (!this.writable()) return false;
    this.ws.send(frame);
    return true;
  }

  accepted(writer: WsSubscriptionWriter): void {
    if (this.subscriptions.get(writer.subscriptionId) === writer) this.emit(wsSubscribedFrame(writer.subscriptionId));
  }

  finish(writer: WsSubscriptionWriter, error?: StreamException): void {
    const id = writer.subscriptionId;
    if (this.subscriptions.get(id) !== writer) return; // unsubscribed meanwhile
    this.subscriptions.delete(id);
    this.emit(error ? wsErrorFrame(id, error) : wsCompleteFrame(id));
  }

  overflow(writer: WsSubscriptionWriter): void {
    this.subscriptions.delete(writer.subscriptionId);
    this.close(WsCloseCode.SLOW_CONSUMER, 'Slow consumer: send buffer limit exceeded');
  }

  /** Ends every subscription with `error` (they are told), then closes with `code`. */
  shutdown(error: StreamException, code: number, reason: string): void {
    for (const writer of [...this.subscriptions.values()]) writer.handle?.close(error);
    this.close(code, reason);
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
      this.deps.logger.warn(`WebSocket close failed: ${error instanceof Error ? error.message : String(error)}`);
      this.ws.terminate();
    }
    this.terminateTimer = setTimeout(() => this.ws.terminate(), WS_CLOSE_GRACE_MS);
    this.terminateTimer.unref();
  }

  /** @internal */
  onError(error: Error): void {
    this.deps.logger.debug?.(`WebSocket error: ${error.message}`);
  }

  /** @internal */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closing) return;
    this.alive(); // any message proves the peer is alive
    let message: WsClientMessage;
    try {
      message = parseWsMessage(data, isBinary, this.deps.maxParamsDepth);
    } catch (error) {
      const e = error instanceof WsProtocolError ? error : new WsProtocolError('Malformed message');
      this.invalid(e.subscriptionId, e);
      return;
    }
    switch (message.type) {
      case 'ping':
        this.emit(WS_PONG_FRAME);
        return;
      case 'init':
        this.init(message.payload);
        return;
      case 'unsubscribe': {
        const index = this.waiting.findIndex((w) => w.id === message.id);
        if (index >= 0) return void this.waiting.splice(index, 1);
        const writer = this.subscriptions.get(message.id);
        if (!writer) return; // already ended: nothing to do
        this.subscriptions.delete(message.id);
        writer.peerGone();
        return;
      }
      case 'subscribe':
        if (this.initState === 'checking' || (this.initState === 'none' && this.deps.options.requireInit)) {
          this.wait(message);
          return;
        }
        if (this.initState === 'none') this.initState = 'skipped';
        this.subscribe(message);
        return;
    }
  }

  /** The init message: checked once (connection guard after init), then answered with `init_ack`. */
  private init(payload: Record<string, unknown> | undefined): void {
    if (this.initState !== 'none') {
      this.invalid(undefined, new WsProtocolError('"init" must be the first message, sent once'));
      return;
    }
    this.initState = 'checking';
    clearTimeout(this.initTimer);
    this.connectionParams = payload;
    this.deps
      .checkInit(this.request, payload)
      .then((refusal) => this.initChecked(refusal))
      .catch((error: unknown) => {
        // checkInit turns every guard failure into a refusal: this catches the rest (a throw
        // while answering), so no rejection is left unhandled and the process survives.
        this.deps.logger.error(`WebSocket init failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        this.close(WsCloseCode.INTERNAL_ERROR, 'Init check failed');
      });
  }

  /** Answers the init message once the connection guard decided. */
  private initChecked(refusal: StreamException | undefined): void {
    if (this.closing) return;
    if (refusal) {
      this.emit(wsErrorFrame(undefined, refusal));
      this.close(wsInitRefusalCloseCode(refusal.code), refusal.message);
      return;
    }
    this.initState = 'done';
    this.emit(WS_INIT_ACK_FRAME);
    const waiting = this.waiting;
    this.waiting = NONE_WAITING;
    for (const message of waiting) {
      if (this.closing) return;
      this.subscribe(message);
    }
  }

  /** A subscribe that must wait for the init to be answered; bounded like active ones. */
  private wait(message: SubscribeMessage): void {
    if (this.waiting.some((w) => w.id === message.id)) {
      this.invalid(
        undefined,
        new WsProtocolError(`Subscription id ${JSON.stringify(message.id)} is already active`, undefined, { id: message.id }),
      );
      return;
    }
    if (this.waiting.length >= this.deps.options.maxSubscriptions) {
      return this.refuse(
        message.id,
        new StreamException(
          StreamErrorCode.RESOURCE_EXHAUSTED,
          `At most ${this.deps.options.maxSubscriptions} subscriptions per connection`,
        ),
      );
    }
    if (this.waiting === NONE_WAITING) this.waiting = [];
    this.waiting.push(message);
  }

  private subscribe(message: SubscribeMessage): void {
    const { id, stream } = message;
    if (this.subscriptions.has(id)) {
      // No id on this error: the active subscription with that id is unaffected.
      this.invalid(
        undefined,
        new WsProtocolError(`Subscription id ${JSON.stringify(id)} is already active`, undefined, { id }),
      );
      return;
    }
    if (this.subscriptions.size >= this.deps.options.maxSubscriptions) {
      return this.refuse(
        id,
        new StreamException(
          StreamErrorCode.RESOURCE_EXHAUSTED,
          `At most ${this.deps.options.maxSubscriptions} subscriptions per connection`,
        ),
        stream,
      );
    }
    if (this.deps.runner.isShuttingDown) {
      return this.refuse(id, this.deps.runner.refusal(), stream);
    }
    const def = this.deps.registry.find(stream, 'ws');
    if (!def) {
      return this.refuse(id, new StreamException(StreamErrorCode.NOT_FOUND, `Unknown stream ${excerpt(stream)}`));
    }
    const call = new StreamCallImpl({
      stream: def.name,
      transport: 'ws',
      params: message.params,
      lastEventId: message.lastEventId,
      headers: this.request.headers,
      raw: this.request,
      connectionParams: this.connectionParams,
    });
    const writer = new WsSubscriptionWriter(this, id, message.ack);
    this.subscriptions.set(id, writer);
    // Grouped by connection: its subscriptions share one retry delay at shutdown.
    writer.handle = this.deps.runner.run(def, call, writer, this.budget, this);
  }

  private refuse(id: string, error: StreamException, stream = ''): void {
    // Metrics: no stream attribute for names that are not streams (unbounded cardinality).
    this.deps.runner.refused('ws', this.deps.registry.find(stream, 'ws')?.name ?? '', error);
    this.emit(wsErrorFrame(id, error));
  }

  /** A malformed message: an error back, and the connection closed once too many came. */
  private invalid(id: string | undefined, error: StreamException): void {
    this.invalidMessages++;
    if (id !== undefined && (this.subscriptions.has(id) || this.waiting.some((w) => w.id === id))) {
      // An error with that id would read as the end of the active subscription.
      this.emit(wsErrorFrame(undefined, new StreamException(error.code, error.message, { id })));
    } else {
      this.emit(wsErrorFrame(id, error));
    }
    if (this.invalidMessages > this.deps.options.maxInvalidMessages) {
      this.close(WsCloseCode.TOO_MANY_INVALID_MESSAGES, 'Too many invalid messages');
    }
  }

  /** @internal */
  onDrain(): void {
    if (!this.blocked || this.ws.bufferedAmount >= WS_SEND_HIGH_WATER_BYTES) return;
    this.blocked = false;
    // Let every subscription flush, starting from a different one each time for fairness.
    const writers = [...this.subscriptions.values()];
    if (writers.length === 0) return;
    const start = this.drainCursor++ % writers.length;
    for (let i = 0; i < writers.length && !this.blocked; i++) {
      writers[(start + i) % writers.length]!.drained();
    }
  }

  private teardownAll(): void {
    const writers = [...this.subscriptions.values()];
    this.subscriptions.clear();
    for (const writer of writers) writer.peerGone();
  }

  /** @internal */
  onClose(): void {
    this.closing = true;
    this.isClosed = true;
    clearTimeout(this.terminateTimer);
    clearTimeout(this.initTimer);
    this.waiting = NONE_WAITING;
    this.teardownAll();
    this.deps.onClosed(this);
    const waiters = this.closeWaiters;
    this.closeWaiters = undefined;
    if (waiters) for (const resolve of waiters) resolve();
  }
}
