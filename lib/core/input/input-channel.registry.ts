import { Injectable } from '@nestjs/common';
import type { SubscriptionInput } from './subscription-input.js';

/** Told when this instance starts or stops holding a channel (the Redis forwarder registers it). */
export interface ChannelHoldListener {
  /** May return a promise that settles once other instances can find the channel. */
  held(channel: string): void | Promise<void>;
  released(channel: string): void;
}

/**
 * The channels this instance holds (PROTOCOL.md §7.1): channel key → the input of the live
 * subscription that named it. A newer subscription with the same channel takes it over; the
 * older one keeps its output but takes no more messages addressed by channel.
 */
@Injectable()
export class InputChannelRegistry {
  private readonly inputs = new Map<string, SubscriptionInput>();
  private listener: ChannelHoldListener | undefined;

  /** Sets the listener (one: the forwarder). */
  listen(listener: ChannelHoldListener | undefined): void {
    this.listener = listener;
  }

  /** The input holding `channel` here, if any. */
  get(channel: string): SubscriptionInput | undefined {
    return this.inputs.get(channel);
  }

  /** Number of channels held. */
  get size(): number {
    return this.inputs.size;
  }

  /** `input` holds `channel` from now on; resolves once other instances can find it (never rejects). */
  hold(channel: string, input: SubscriptionInput): Promise<void> | undefined {
    this.inputs.set(channel, input);
    const routed = this.listener?.held(channel);
    return routed ? routed.catch(() => undefined) : undefined;
  }

  /** A subscription on another instance took `channel` over: this instance no longer holds it. */
  drop(channel: string): void {
    this.inputs.delete(channel);
  }

  /** Releases `channel` if `input` still holds it. */
  release(channel: string, input: SubscriptionInput): void {
    if (this.inputs.get(channel) !== input) return;
    this.inputs.delete(channel);
    this.listener?.released(channel);
  }
}
