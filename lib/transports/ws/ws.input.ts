import type { WebSocket } from 'ws';
import type { SubscriptionInput } from '../../core/input/subscription-input.js';
import { StreamException, toStreamException } from '../../errors/stream-exception.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { excerpt } from '../../errors/error-bounds.js';
import { wsInputAckFrame, wsInputErrorFrame } from './ws.framing.js';

/** What the connection's client messages need from it. */
export interface WsInputHost {
  /** Sends one text message. */
  emit(text: string): boolean;
  /** The peer counts as alive (reading was paused by us, not by it). */
  alive(): void;
}

/** The subscription a client message names, as far as input goes. */
export interface WsInputTarget {
  readonly stream: string;
  readonly input: SubscriptionInput | undefined;
}

/**
 * The client messages of one connection (PROTOCOL.md §7.2): offers each to its subscription's
 * input, answers `input_ack`/`input_error`, and stops reading the socket while any of the
 * connection's inputs is full (TCP then pushes back on the client), resuming when all have room.
 * `ws` still delivers the rest of the chunk it was parsing when reading stops: those messages
 * (and half-closes) are held, in order, and offered once every input has room again, so no
 * message is refused for a full queue and none overtakes another. At most one socket read's
 * worth is held.
 */
export class WsConnectionInput {
  private readonly full = new Set<SubscriptionInput>();
  private readonly held: (() => void)[] = [];

  constructor(
    private readonly ws: WebSocket,
    private readonly host: WsInputHost,
  ) {}

  offer(target: WsInputTarget | undefined, id: string, messageId: string, data: unknown, bytes: number): void {
    if (this.full.size || this.held.length) this.held.push(() => this.offerNow(target, id, messageId, data, bytes));
    else this.offerNow(target, id, messageId, data, bytes);
  }

  /** The client's half-close of `target`, in order with the messages before it. */
  end(target: WsInputTarget | undefined): void {
    if (this.full.size || this.held.length) this.held.push(() => target?.input?.end());
    else target?.input?.end();
  }

  private offerNow(target: WsInputTarget | undefined, id: string, messageId: string, data: unknown, bytes: number): void {
    if (!target) {
      const error = new StreamException(StreamErrorCode.NOT_FOUND, `No active subscription ${excerpt(id)}`);
      this.host.emit(wsInputErrorFrame(id, messageId, error));
      return;
    }
    const input = target.input;
    if (!input) {
      const error = new StreamException(StreamErrorCode.BAD_REQUEST, `Stream ${excerpt(target.stream)} takes no client messages`);
      this.host.emit(wsInputErrorFrame(id, messageId, error));
      return;
    }
    // Messages of the socket read already under way when reading stopped still come: queued.
    input.offer(messageId, data, bytes, true).then(
      (answer) => this.host.emit(wsInputAckFrame(id, messageId, answer.duplicate)),
      (error: unknown) => this.host.emit(wsInputErrorFrame(id, messageId, toStreamException(error))),
    );
    if (input.full) this.pause(input);
  }

  private pause(input: SubscriptionInput): void {
    if (this.full.has(input)) return;
    this.full.add(input);
    input.onRoom(() => {
      input.onRoom(undefined);
      this.full.delete(input);
      // Held messages go first; one of them may fill an input again, which pauses anew.
      while (this.held.length && !this.full.size) this.held.shift()!();
      if (this.full.size === 0 && this.ws.isPaused) {
        this.host.alive();
        this.ws.resume();
      }
    });
    if (!this.ws.isPaused) this.ws.pause();
  }
}
