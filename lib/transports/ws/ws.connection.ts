import type { Socket } from 'node:net';
import type { Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { QueueBudget } from '../../core/pipe-to-writer.js';
import { StreamCallImpl } from '../../core/stream-call.js';
import type { StreamRegistry } from '../../core/stream-registry.js';
import type { StreamRunner } from '../../core/stream-runner.js';
import { excerpt } from '../../errors/error-bounds.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import type { ResolvedWsOptions } from '../../interfaces/longlink-options.interface.js';
import { ownerOf, setOwner } from '../../internals/ws.js';
import { WsCloseCode } from '../../protocol/ws.protocol.js';
import { WS_PONG_FRAME, wsCompleteFrame, wsErrorFrame, wsSubscribedFrame } from './ws.framing.js';
import { WsInitHandshake, type SubscribeMessage, type WsInitCheck } from './ws.init.js';
import { WsProtocolError, parseWsMessage, type WsClientMessage } from './ws.request.js';
import type { WsUpgradeRequest } from './ws.upgrade-request.js';
import { WsSubscriptionWriter, type WsSubscriptionHost } from './ws.writer.js';
import { WsConnectionInput } from './ws.input.js';
import type { InputRateLimiter } from '../../core/input/input-rate.limiter.js';

export { WS_CLOSE_GRACE_MS, WS_SEND_HIGH_WATER_BYTES } from './ws.sender.js';
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
  checkInit: WsInitCheck;
}

// The listeners of every connection: shared functions that find their connection through
// `this` (the emitter, marked by the `ws` door), instead of five closures per connection.
function onWsMessage(this: WebSocket, data: unknown, isBinary: boolean): void {
  ownerOf<WsConnection>(this).onMessage(data as Buffer, isBinary);
}
function onWsPong(this: WebSocket): void {
  ownerOf<WsConnection>(this).alive();
}
function onWsError(this: WebSocket, error: Error): void {
  // Without an 'error' listener, an oversize frame would crash the process.
  ownerOf<WsConnection>(this).onError(error);
}
function onWsClose(this: WebSocket): void {
  ownerOf<WsConnection>(this).onClose();
}
function onSocketDrain(this: Socket): void {
  ownerOf<WsConnection>(this).onDrain();
}

/**
 * One client connection: its messages (PROTOCOL.md §4), its subscriptions by client id with
 * the connection-wide send budget they share, and its teardown. The socket side (frames,
 * batching, backpressure, heartbeat, close) is {@link WsSender}; the init handshake is
 * {@link WsInitHandshake}: layers of this one object.
 */
export class WsConnection extends WsInitHandshake implements WsSubscriptionHost {
  private readonly subscriptions = new Map<string, WsSubscriptionWriter>();
  private readonly budget: QueueBudget;
  private invalidMessages = 0;
  private isClosed = false;
  private closeWaiters: (() => void)[] | undefined;
  private drainCursor = 0;
  private inputs: WsConnectionInput | undefined;
  private inputRate: InputRateLimiter | undefined | null = null;

  /** The connection's client messages (two-way streams), made on first use. */
  private get input(): WsConnectionInput {
    return (this.inputs ??= new WsConnectionInput(this.ws, { emit: (text) => this.emit(text), alive: () => this.alive() }));
  }

  constructor(
    ws: WebSocket,
    socket: Socket,
    request: WsUpgradeRequest,
    private readonly deps: WsConnectionDeps,
  ) {
    super(ws, socket, request, deps.options, deps.logger, deps.checkInit);
    this.budget = new QueueBudget(deps.options.maxBufferedBytes);
    setOwner(ws, socket, this);
    ws.on('message', onWsMessage);
    ws.on('pong', onWsPong);
    ws.on('error', onWsError);
    socket.on('drain', onSocketDrain);
    ws.on('close', onWsClose); // emitted once
  }

  /** Resolves when the socket is closed (made on demand: only shutdown waits for it). */
  get closed(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => (this.closeWaiters ??= []).push(resolve));
  }

  /** Number of active subscriptions. */
  get size(): number {
    return this.subscriptions.size;
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

  /** @internal */
  onError(error: Error): void {
    this.logger.debug?.(`WebSocket error: ${error.message}`);
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
        if (this.dropWaiting(message.id)) return;
        const writer = this.subscriptions.get(message.id);
        if (!writer) return; // already ended: nothing to do
        this.subscriptions.delete(message.id);
        writer.peerGone();
        return;
      }
      case 'subscribe':
        this.admit(message);
        return;
      case 'input':
        this.input.offer(this.subscriptions.get(message.id), message.id, message.messageId, message.data, data.length);
        return;
      case 'input_end':
        this.input.end(this.subscriptions.get(message.id));
        return;
    }
  }

  protected subscribe(message: SubscribeMessage): void {
    const { id, stream } = message;
    if (this.subscriptions.has(id)) {
      // No id on this error: the active subscription with that id is unaffected.
      this.invalid(undefined, new WsProtocolError(`Subscription id ${JSON.stringify(id)} is already active`, undefined, { id }));
      return;
    }
    const { maxSubscriptions } = this.deps.options;
    if (this.subscriptions.size >= maxSubscriptions) {
      const error = new StreamException(StreamErrorCode.RESOURCE_EXHAUSTED, `At most ${maxSubscriptions} subscriptions per connection`);
      return this.refuse(id, error, stream);
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
      channel: def.input ? message.channel : undefined,
      // One rate limit per connection, shared by its subscriptions.
      inputRate: def.input ? (this.inputRate === null ? (this.inputRate = this.deps.runner.inputRateLimiter()) : this.inputRate) : undefined,
    });
    const writer = new WsSubscriptionWriter(this, id, message.ack, def.name);
    this.subscriptions.set(id, writer);
    // Grouped by connection: its subscriptions share one retry delay at shutdown.
    writer.handle = this.deps.runner.run(def, call, writer, this.budget, this);
    writer.input = call.input;
  }

  protected refuse(id: string, error: StreamException, stream = ''): void {
    // Metrics: no stream attribute for names that are not streams (unbounded cardinality).
    this.deps.runner.refused('ws', this.deps.registry.find(stream, 'ws')?.name ?? '', error);
    this.emit(wsErrorFrame(id, error));
  }

  /** A malformed message: an error back, and the connection closed once too many came. */
  protected invalid(id: string | undefined, error: StreamException): void {
    this.invalidMessages++;
    if (id !== undefined && (this.subscriptions.has(id) || this.isWaiting(id))) {
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
    if (!this.unblock()) return;
    // Let every subscription flush, starting from a different one each time for fairness.
    const writers = [...this.subscriptions.values()];
    if (writers.length === 0) return;
    const start = this.drainCursor++ % writers.length;
    for (let i = 0; i < writers.length && !this.blockedNow; i++) {
      writers[(start + i) % writers.length]!.drained();
    }
  }

  protected teardownAll(): void {
    const writers = [...this.subscriptions.values()];
    this.subscriptions.clear();
    for (const writer of writers) writer.peerGone();
  }

  /** @internal */
  onClose(): void {
    this.isClosed = true;
    this.socketClosed();
    this.teardownAll();
    this.deps.onClosed(this);
    const waiters = this.closeWaiters;
    this.closeWaiters = undefined;
    if (waiters) for (const resolve of waiters) resolve();
  }
}
