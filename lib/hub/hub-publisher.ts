import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException } from '../errors/stream-exception.js';
import type { HubAdapter, HubIdempotency, HubRecord } from './hub-adapter.interface.js';
import type { HubEpochTracker } from './hub-epoch.tracker.js';
import { formatHubEventId } from './hub-event-id.js';
import { HubInbox } from './hub-inbox.js';

/**
 * The hub's publish path: serialises once, appends to the store and resolves with the event
 * id. Kept to plain promise steps (no `async` wrapper, no wait for a start that is done): a
 * publish costs the store's promise and one `then`, whatever the number of subscribers.
 */
export class HubPublisher {
  /** Where the adapter's live records enter (records a synchronous adapter delivers during a publish wait there). */
  readonly inbox: HubInbox;
  /** The adapter has started: a publish goes straight to it. */
  running = false;

  constructor(
    private readonly adapter: HubAdapter,
    private readonly epochs: HubEpochTracker,
    /** Starts the adapter (once). */
    private readonly start: () => Promise<void>,
    /** Metrics: one publish, with its error code when it failed. */
    private readonly counted: (code?: string) => void,
    /** The error a failed store call becomes (logged, `UNAVAILABLE` unless expected). */
    private readonly failure: (error: unknown, what: string) => StreamException,
  ) {
    this.inbox = new HubInbox((topic, epoch, record) => this.epochs.onMessage(topic, epoch, record));
  }

  /** Serialises `data` and appends it to `topic` (the topic and key are already checked). */
  append(topic: string, data: unknown, idempotency?: HubIdempotency): Promise<string> {
    let json: string;
    try {
      json = JSON.stringify(data) ?? 'null';
    } catch {
      return Promise.reject(new StreamException(StreamErrorCode.BAD_REQUEST, 'The published data cannot be serialised as JSON'));
    }
    return this.running ? this.store(topic, json, idempotency) : this.start().then(() => this.store(topic, json, idempotency));
  }

  /** Appends to the store; records the adapter delivers meanwhile wait in the inbox ({@link HubInbox}). */
  private store(topic: string, json: string, idempotency: HubIdempotency | undefined): Promise<string> {
    let stored: Promise<{ epoch: string; record: HubRecord }>;
    this.inbox.publishing++;
    try {
      stored = this.adapter.publish(topic, json, idempotency);
    } catch (error) {
      stored = Promise.reject(error);
    } finally {
      this.inbox.publishing--;
    }
    return stored.then(this.stored, (error: unknown) => {
      const exception = this.failure(error, `publish to "${topic}"`);
      this.counted(exception.code);
      throw exception;
    });
  }

  /** A record is stored: its event id. */
  private readonly stored = ({ epoch, record }: { epoch: string; record: HubRecord }): string => {
    this.epochs.observeEpoch(epoch);
    this.counted();
    return formatHubEventId(epoch, record.position);
  };
}
