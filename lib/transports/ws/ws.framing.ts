import type { StreamException } from '../../errors/stream-exception.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';

/** The part of a `next` message after the subscription id, made once per event. */
const suffixes = new WeakMap<StreamEvent, string>();

/** `{"type":"next","id":<id>` — made once per subscription. */
export function wsNextPrefix(subscriptionId: string): string {
  return `{"type":"next","id":${JSON.stringify(subscriptionId)}`;
}

/**
 * A `next` message: the subscription's prefix plus the event's part, which holds the data
 * JSON serialised once per event however many subscribers it reaches.
 */
export function wsNextFrame(prefix: string, event: StreamEvent): string {
  let suffix = suffixes.get(event);
  if (suffix === undefined) {
    suffix =
      event.id === undefined
        ? `,"data":${event.json}}`
        : `,"eventId":${JSON.stringify(event.id)},"data":${event.json}}`;
    suffixes.set(event, suffix);
  }
  return prefix + suffix;
}

/** A reset notice for one subscription: `{"type":"reset","id":...,"eventId"?,"data":{"reason"}}`. */
export function wsResetFrame(subscriptionId: string, event: StreamEvent): string {
  const eventId = event.id === undefined ? '' : `,"eventId":${JSON.stringify(event.id)}`;
  return `{"type":"reset","id":${JSON.stringify(subscriptionId)}${eventId},"data":${event.json}}`;
}

export function wsCompleteFrame(subscriptionId: string): string {
  return `{"type":"complete","id":${JSON.stringify(subscriptionId)}}`;
}

/** An `error` message; without `id` for errors that concern no (valid) subscription. */
export function wsErrorFrame(subscriptionId: string | undefined, error: StreamException): string {
  return JSON.stringify(
    subscriptionId === undefined
      ? { type: 'error', error: error.toJSON() }
      : { type: 'error', id: subscriptionId, error: error.toJSON() },
  );
}

export const WS_PONG_FRAME = '{"type":"pong"}';
