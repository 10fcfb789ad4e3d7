import type { Socket } from 'node:net';
import type { Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import type { ResolvedWsOptions } from '../../interfaces/longlink-options.interface.js';
import { WsCloseCode, wsInitRefusalCloseCode } from '../../protocol/ws.protocol.js';
import { WS_INIT_ACK_FRAME, wsErrorFrame } from './ws.framing.js';
import { WsProtocolError, type WsClientMessage } from './ws.request.js';
import { WsSender } from './ws.sender.js';
import type { WsUpgradeRequest } from './ws.upgrade-request.js';

export type SubscribeMessage = Extract<WsClientMessage, { type: 'subscribe' }>;

/**
 * Decides on the init message's payload (runs `ws.connectionGuard` when it is configured to
 * run after init): `undefined` accepts, an exception refuses (the connection is closed).
 */
export type WsInitCheck = (request: WsUpgradeRequest, payload: Record<string, unknown> | undefined) => Promise<StreamException | undefined>;

/** Shared by every connection with no subscribe waiting (most of them); never written to. */
const NONE_WAITING: SubscribeMessage[] = [];

/**
 * Where the connection is with its init message (PROTOCOL.md §4.2): none yet, received and
 * being checked, answered with `init_ack`, or skipped (a subscribe came first; init optional).
 */
type InitState = 'none' | 'checking' | 'done' | 'skipped';

/**
 * The init handshake of a connection (PROTOCOL.md §4.2): the init timeout when init is
 * required, the check of its payload (the connection guard after init), `init_ack` or the
 * refusal, and the subscribes that arrive meanwhile, held in order and bounded like active
 * ones. A layer of {@link WsConnection} (one object per connection), between the socket
 * ({@link WsSender}) and the subscriptions.
 */
export abstract class WsInitHandshake extends WsSender {
  private initTimer: NodeJS.Timeout | undefined;
  private initState: InitState = 'none';
  /** The init message's payload: every subscription's `call.connectionParams`. */
  protected connectionParams: Record<string, unknown> | undefined;
  /** Subscribes that arrived before the init was answered, in order. */
  private waiting: SubscribeMessage[] = NONE_WAITING;

  constructor(
    ws: WebSocket,
    socket: Socket,
    protected readonly request: WsUpgradeRequest,
    wsOptions: ResolvedWsOptions,
    logger: Logger,
    private readonly checkInit: WsInitCheck,
  ) {
    super(ws, socket, wsOptions, logger);
    if (wsOptions.requireInit) {
      this.initTimer = setTimeout(() => {
        if (this.initState === 'none') this.close(WsCloseCode.INIT_TIMEOUT, 'Init message not received in time');
      }, wsOptions.initTimeoutMs);
      this.initTimer.unref();
    }
  }

  /** Starts a subscription (init answered or skipped). */
  protected abstract subscribe(message: SubscribeMessage): void;
  /** Answers a malformed message (and counts it). */
  protected abstract invalid(id: string | undefined, error: StreamException): void;
  /** Refuses a subscription with an error for its id. */
  protected abstract refuse(id: string, error: StreamException, stream?: string): void;

  /** The init message: checked once (connection guard after init), then answered with `init_ack`. */
  protected init(payload: Record<string, unknown> | undefined): void {
    if (this.initState !== 'none') {
      this.invalid(undefined, new WsProtocolError('"init" must be the first message, sent once'));
      return;
    }
    this.initState = 'checking';
    clearTimeout(this.initTimer);
    this.connectionParams = payload;
    this.checkInit(this.request, payload)
      .then((refusal) => this.initChecked(refusal))
      .catch((error: unknown) => {
        // checkInit turns every guard failure into a refusal: this catches the rest (a throw
        // while answering), so no rejection is left unhandled and the process survives.
        this.logger.error(`WebSocket init failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        this.close(WsCloseCode.INTERNAL_ERROR, 'Init check failed');
      });
  }

  /** A subscribe: started now, or held until the init is answered. */
  protected admit(message: SubscribeMessage): void {
    if (this.initState === 'checking' || (this.initState === 'none' && this.wsOptions.requireInit)) {
      this.wait(message);
      return;
    }
    if (this.initState === 'none') this.initState = 'skipped';
    this.subscribe(message);
  }

  /** Drops a held subscribe (unsubscribed before it started); `false` when none has that id. */
  protected dropWaiting(id: string): boolean {
    const index = this.waiting.findIndex((w) => w.id === id);
    if (index < 0) return false;
    this.waiting.splice(index, 1);
    return true;
  }

  /** Whether a subscribe with that id is held. */
  protected isWaiting(id: string): boolean {
    return this.waiting.some((w) => w.id === id);
  }

  /** The socket closed: no timeout, nothing held. */
  protected override socketClosed(): void {
    super.socketClosed();
    clearTimeout(this.initTimer);
    this.waiting = NONE_WAITING;
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
    if (this.isWaiting(message.id)) {
      this.invalid(undefined, new WsProtocolError(`Subscription id ${JSON.stringify(message.id)} is already active`, undefined, { id: message.id }));
      return;
    }
    if (this.waiting.length >= this.wsOptions.maxSubscriptions) {
      return this.refuse(
        message.id,
        new StreamException(StreamErrorCode.RESOURCE_EXHAUSTED, `At most ${this.wsOptions.maxSubscriptions} subscriptions per connection`),
      );
    }
    if (this.waiting === NONE_WAITING) this.waiting = [];
    this.waiting.push(message);
  }
}
