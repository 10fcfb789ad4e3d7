import type { Logger } from '@nestjs/common';
import type { HubAdapter, HubRecord } from './hub-adapter.interface.js';
import { formatHubEventId } from './hub-event-id.js';
import type { HubTopicRegistry } from './hub-topic.registry.js';

/** Attempts to catch up after a reconnect before giving up with a reset. */
const CATCH_UP_ATTEMPTS = 10;
const CATCH_UP_RETRY_MS = 300;

/**
 * The store's epoch and live delivery for the listened topics: routes the adapter's live
 * records to their topic, holds them while a topic catches up, resets every subscriber when the
 * store's epoch changes (it lost its data), and after a reconnect delivers what was published
 * meanwhile (or resets), retrying a while when the store is not back yet.
 */
export class HubEpochTracker {
  /** The store's epoch as last confirmed by a command reply; `undefined` until known. */
  private epoch: string | undefined;
  private catchingUp: Promise<void> | undefined;
  private catchUpAgain = false;
  private down = false;

  constructor(
    private readonly adapter: HubAdapter,
    private readonly topics: HubTopicRegistry,
    private readonly logger: Logger,
  ) {}

  /** Live delivery is down (the adapter said `disconnected`, not yet `reconnected`). */
  get offline(): boolean {
    return this.down;
  }

  /** An epoch a command reply carried: the first one is adopted, another one means the store lost its data. */
  observeEpoch(epoch: string): void {
    if (this.epoch === undefined) this.epoch = epoch;
    else if (epoch !== this.epoch) this.epochChanged(epoch);
  }

  /** Asks the store for its epoch (never throws: when it is not reachable, the reconnect path checks again). */
  async confirmEpoch(): Promise<void> {
    try {
      this.observeEpoch(await this.adapter.epoch(true));
    } catch {
      // not reachable now: the reconnect path checks again
    }
  }

  /** A live record from the adapter (any instance's publish). Never throws. */
  onMessage(topic: string, epoch: string, record: HubRecord): void {
    try {
      // Positions of the adapter's own records need no check; a shared store's may be anything.
      if (this.adapter.ownRecords !== true && !this.adapter.isPosition(record.position)) return;
      if (epoch !== this.epoch) {
        // Only a command reply confirms an epoch; until then such messages are not delivered.
        void this.confirmEpoch();
        return;
      }
      const state = this.topics.get(topic);
      if (!state) return;
      if (state.catchUp) state.catchUp.pending.push(record);
      else this.topics.deliver(state, record, epoch);
    } catch (error) {
      this.logger.warn(`Dropped a malformed hub message on "${topic}": ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Live delivery stopped: remember where each topic stood, hold what arrives until caught up. */
  onDisconnected(): void {
    this.down = true;
    for (const state of this.topics.states()) {
      state.catchUp ??= { from: state.last ?? state.floor ?? this.adapter.origin, pending: [] };
    }
  }

  /** Live delivery is back: catch up. */
  onReconnected(): void {
    this.down = false;
    this.catchUp();
  }

  /**
   * The store lost its data: every live subscriber may have missed events, and gets a reset.
   * Then it gets the new epoch's records from its start: all of them were published after the
   * loss (possibly before this instance noticed it), so none is missed and none is a duplicate.
   */
  private epochChanged(epoch: string): void {
    this.logger.warn(`History epoch changed (${this.epoch} → ${epoch}): subscribers get a reset notice`);
    this.epoch = epoch;
    for (const state of this.topics.states()) {
      state.last = undefined;
      state.floor = this.adapter.origin;
      state.catchUp = { from: this.adapter.origin, pending: [] };
      for (const listener of [...state.listeners]) listener.reset('history-lost', undefined, undefined);
    }
    if (this.topics.size > 0) this.catchUp();
  }

  /** After a reconnect: deliver what was published meanwhile, or reset. One run at a time. */
  private catchUp(): void {
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return;
    }
    this.catchingUp = this.runCatchUp().finally(() => {
      this.catchingUp = undefined;
      if (this.catchUpAgain) {
        this.catchUpAgain = false;
        this.catchUp();
      }
    });
  }

  private async runCatchUp(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        this.observeEpoch(await this.adapter.epoch(true));
        for (const [topic, state] of this.topics.entries()) {
          if (!state.catchUp) continue;
          const history = await this.adapter.history(topic, state.catchUp.from);
          if (history.epoch !== this.epoch) return this.observeEpoch(history.epoch);
          const { pending } = state.catchUp;
          state.catchUp = undefined;
          if (history.kind === 'gap') {
            const id = history.latest === undefined ? undefined : formatHubEventId(history.epoch, history.latest);
            state.last = history.latest;
            for (const listener of [...state.listeners]) listener.reset(history.reason, id, history.latest);
          } else {
            for (const record of history.records) this.topics.deliver(state, record, history.epoch);
          }
          for (const record of pending) this.topics.deliver(state, record, history.epoch);
        }
        return;
      } catch (error) {
        if (attempt >= CATCH_UP_ATTEMPTS) {
          this.logger.warn(`Could not catch up after a reconnect: ${error instanceof Error ? error.message : String(error)}`);
          for (const state of this.topics.states()) {
            if (!state.catchUp) continue;
            state.catchUp = undefined;
            for (const listener of [...state.listeners]) listener.reset('history-lost', undefined, undefined);
          }
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS).unref());
      }
    }
  }
}
