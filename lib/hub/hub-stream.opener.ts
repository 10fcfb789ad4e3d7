import type { Logger } from '@nestjs/common';
import { Observable, type Subscriber } from 'rxjs';
import { holdOpenUntil } from '../core/open-barrier.js';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamEvent } from '../interfaces/stream-event.interface.js';
import type { HubAdapter } from './hub-adapter.interface.js';
import { formatHubEventId, parseHubEventId } from './hub-event-id.js';
import type { HubEpochTracker } from './hub-epoch.tracker.js';
import type { HubListener, HubTopicRegistry } from './hub-topic.registry.js';
import { hubUnavailable, resetEvent, toHubEvent } from './hub-records.util.js';

/** Options of `StreamHub.stream`. */
export interface HubStreamOptions {
  /** The last event id the client got (a reconnect): resume after it. */
  lastEventId?: string;
  /**
   * On a first subscribe (no `lastEventId`): replay up to this many of the topic's newest
   * events before live ones (at most `hub.historySize`). Default 0.
   */
  history?: number;
}

/** Reads a presence stream's `state`: its data, and the newest diff's position when read. */
export type HubSnapshot = () => Promise<{ epoch: string; position: string | undefined; data: unknown }>;

/**
 * Opens one subscriber's stream of a topic: history on a first join or a resume after a last
 * event id (or a reset notice when it cannot resume), then live events, buffered meanwhile so
 * that nothing is missed or delivered twice.
 */
export class HubStreamOpener {
  constructor(
    private readonly adapter: HubAdapter,
    private readonly topics: HubTopicRegistry,
    private readonly epochs: HubEpochTracker,
    private readonly logger: Logger,
    /** Called when a subscription fails because the store is not reachable (metrics). */
    private readonly onUnavailable: () => void,
  ) {}

  /**
   * A topic's events after `lastEventId`, or its last `history` ones, then live ones. With
   * `snapshot` (presence streams), a `state` event replaces the history: first when there is
   * no `lastEventId`, and again after every reset notice; events it already covers are skipped.
   */
  open(topic: string, lastEventId: string | undefined, history: number, snapshot: HubSnapshot | undefined): Observable<StreamEvent> {
    return new Observable<StreamEvent>((subscriber) => {
      let last: string | undefined; // position of the last event this subscriber got
      let generation = 0; // bumped by every reset: a replay in progress stops
      let buffered: { event: StreamEvent; position: string }[] | undefined = [];
      let initial = true;
      let needSnapshot = snapshot !== undefined && lastEventId === undefined;
      const emit = (event: StreamEvent, position: string) => {
        if (last !== undefined && this.adapter.compare(position, last) <= 0) return; // seen already
        last = position;
        subscriber.next(event);
      };
      const flush = () => {
        // Live events that arrived meanwhile: emit() drops those already sent or covered.
        const pending = buffered ?? [];
        buffered = undefined;
        for (const { event, position } of pending) emit(event, position);
      };
      const takeSnapshot = async (start: number): Promise<void> => {
        const taken = await snapshot!();
        this.epochs.observeEpoch(taken.epoch);
        if (generation !== start || subscriber.closed) return;
        const id = taken.position === undefined ? undefined : formatHubEventId(taken.epoch, taken.position);
        subscriber.next(new StreamEvent(taken.data, id));
        if (taken.position !== undefined && (last === undefined || this.adapter.compare(taken.position, last) > 0)) last = taken.position;
      };
      const listener: HubListener = {
        deliver: (event, position) => (buffered ? buffered.push({ event, position }) : emit(event, position)),
        reset: (reason, id, position) => {
          generation++;
          last = position;
          if (buffered) buffered = [];
          subscriber.next(resetEvent(reason, id));
          if (!snapshot) return;
          needSnapshot = true;
          if (initial) return; // the opening flow takes it
          buffered ??= [];
          const start = generation;
          takeSnapshot(start).then(
            () => generation === start && !subscriber.closed && flush(),
            (error: unknown) => subscriber.closed || subscriber.error(hubUnavailable(error, `presence of "${topic}"`, this.logger)),
          );
        },
      };
      const state = this.topics.acquire(topic, listener);
      const live = (async () => {
        await state.ready;
        if (subscriber.closed) return;
        // A new subscriber is refused while live delivery is down (it would wait for the
        // store's return); those already streaming stay and catch up, or get a reset.
        if (this.epochs.offline) throw new Error('live delivery is down');
        if (lastEventId !== undefined) {
          const start = generation;
          await this.replay(topic, lastEventId, subscriber, emit, listener, () => generation === start);
        } else if (history > 0) {
          const start = generation;
          const recent = await this.adapter.recent(topic, history);
          this.epochs.observeEpoch(recent.epoch);
          // A reset meanwhile (the store lost its data) makes these records stale.
          if (generation === start && !subscriber.closed) {
            for (const record of recent.records) {
              const event = toHubEvent(record, recent.epoch, this.logger, this.adapter.ownRecords);
              if (event) emit(event, record.position);
            }
          }
        }
        while (needSnapshot && !subscriber.closed) {
          needSnapshot = false;
          await takeSnapshot(generation);
        }
        if (subscriber.closed) return;
        initial = false;
        flush();
      })();
      // The subscription counts as held once the topic is live here: an event published
      // after that is delivered (the SSE head and the testing kit's subscribe() wait for it).
      holdOpenUntil(live);
      live.catch((error: unknown) => {
        if (subscriber.closed) return;
        const exception = hubUnavailable(error, `subscription to "${topic}"`, this.logger);
        if (exception.code === StreamErrorCode.UNAVAILABLE) this.onUnavailable();
        subscriber.error(exception);
      });
      return () => this.topics.release(topic, listener);
    });
  }

  /** Emits the topic's events after `lastEventId`, or resets the listener when it cannot resume from there. */
  private async replay(
    topic: string,
    lastEventId: string,
    subscriber: Subscriber<StreamEvent>,
    emit: (event: StreamEvent, position: string) => void,
    listener: HubListener,
    current: () => boolean,
  ): Promise<void> {
    const parsed = parseHubEventId(lastEventId);
    if (!parsed || !this.adapter.isPosition(parsed.position)) {
      const [epoch, latest] = await Promise.all([this.adapter.epoch(), this.adapter.latest(topic)]);
      this.epochs.observeEpoch(epoch);
      return listener.reset('unknown', latest === undefined ? undefined : formatHubEventId(epoch, latest), latest);
    }
    const history = await this.adapter.history(topic, parsed.position);
    this.epochs.observeEpoch(history.epoch);
    if (!current() || subscriber.closed) return;
    if (history.kind === 'gap' || parsed.epoch !== history.epoch) {
      const latest = history.kind === 'gap' ? history.latest : (history.records.at(-1)?.position ?? (await this.adapter.latest(topic)));
      const reason = parsed.epoch !== history.epoch ? 'other-epoch' : (history as { reason: 'too-old' | 'unknown' }).reason;
      if (!current() || subscriber.closed) return;
      return listener.reset(reason, latest === undefined ? undefined : formatHubEventId(history.epoch, latest), latest);
    }
    for (const record of history.records) {
      if (subscriber.closed || !current()) return;
      const event = toHubEvent(record, history.epoch, this.logger, this.adapter.ownRecords);
      if (event) emit(event, record.position);
    }
  }
}
