import type { StreamErrorBody } from '../../errors/stream-exception.js';
import type { ChannelHoldListener } from './input-channel.registry.js';

/** One client message addressed by channel (SSE POST, PROTOCOL.md §7.4), or the half-close. */
export type ChannelInputRequest = { end: true } | { end?: false; id: string; data: unknown; bytes: number };

/**
 * The answer to a {@link ChannelInputRequest}, as plain JSON (it may cross instances):
 * accepted (`duplicate`: acked before), half-closed, or refused with an error of PROTOCOL.md §2
 * (`tooLarge`: refused for its size, which HTTP answers with `413`).
 */
export type ChannelInputOutcome = { duplicate: boolean } | { ended: true } | { error: StreamErrorBody; tooLarge?: boolean };

/** Answers a request for a channel this instance holds. */
export type ChannelInputDeliver = (channel: string, request: ChannelInputRequest) => Promise<ChannelInputOutcome>;

/**
 * Carries channel-addressed client messages between instances, so that a POST may reach any
 * instance (no sticky sessions, PROTOCOL.md §7.4). It hears which channels this instance holds
 * (as the {@link ChannelHoldListener} of the channel registry), makes them findable, answers
 * requests other instances forward here with `deliver`, and forwards requests for channels
 * held elsewhere. The hub's adapter provides one when instances share a store (Redis); the
 * core never imports a broker library.
 */
export interface InputForwarder extends ChannelHoldListener {
  /**
   * Starts serving: `deliver` answers requests forwarded to this instance; `lost` is told
   * when a subscription on another instance took over a channel held here.
   */
  serve(deliver: ChannelInputDeliver, lost: (channel: string) => void): void;
  /**
   * Forwards a request to the instance holding `channel`; resolves with its answer, or with
   * `NOT_FOUND` when no instance holds it, `UNAVAILABLE` when the holder does not answer in
   * time or cannot be reached. Never rejects.
   */
  forward(channel: string, request: ChannelInputRequest): Promise<ChannelInputOutcome>;
  close(): Promise<void>;
}
