import type { Logger } from '@nestjs/common';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException, isExpectedError } from '../errors/stream-exception.js';
import { excerpt } from '../errors/error-bounds.js';
import { StreamEvent, eventFromJson } from '../interfaces/stream-event.interface.js';
import type { HubRecord } from './hub-adapter.interface.js';
import { formatHubEventId } from './hub-event-id.js';

/** Why a subscriber got a reset notice. */
export type HubResetReason = 'too-old' | 'unknown' | 'other-epoch' | 'history-lost';

const TOPIC = /^[A-Za-z0-9:._~\-/]{1,200}$/;

/** A topic's presence diffs are published to `<topic>:presence` (reserved: `publish()` refuses it). */
export const PRESENCE_SUFFIX = ':presence';

/** Throws `BAD_REQUEST` unless `topic` is 1 to 200 of `A-Z a-z 0-9 : . _ ~ - /`. */
export function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || !TOPIC.test(topic)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `Invalid topic ${excerpt(topic)}`);
  }
}

/** A reset notice: a `StreamEvent` of kind `'reset'` with data `{ reason }`. */
export function resetEvent(reason: HubResetReason, id: string | undefined): StreamEvent {
  return new StreamEvent({ reason }, id, { kind: 'reset' });
}

/**
 * The record as an event; `undefined` (logged) when its JSON is malformed. With `ownRecords`
 * (the adapter only holds JSON this process serialised) the JSON is not parsed here: the
 * event's `data` is parsed when first read.
 */
export function toHubEvent(record: HubRecord, epoch: string, logger: Logger, ownRecords = false): StreamEvent | undefined {
  if (ownRecords) return eventFromJson(record.json, formatHubEventId(epoch, record.position));
  let data: unknown;
  try {
    data = JSON.parse(record.json);
  } catch {
    logger.warn(`Dropped a hub record with malformed JSON at ${record.position}`);
    return undefined;
  }
  return new StreamEvent(data, formatHubEventId(epoch, record.position), { json: record.json });
}

/** An expected error as it is; anything else (logged) as `UNAVAILABLE`, the store not being reachable. */
export function hubUnavailable(error: unknown, what: string, logger: Logger): StreamException {
  if (error instanceof StreamException || isExpectedError(error)) return error as StreamException;
  logger.warn(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
  return new StreamException(StreamErrorCode.UNAVAILABLE, 'The hub is not reachable right now', undefined, {
    cause: error,
  });
}

/** Options of `hub.publish()`. */
export interface HubPublishOptions {
  /**
   * Publish at most once per key and topic (PROTOCOL.md §7.1): a publish whose key was used on
   * the same topic within the window (`input.dedupWindowMs`, default 10 minutes) stores and
   * delivers nothing and resolves with the event id of the publish that used the key. Checked
   * atomically with the append on both adapters. 1 to 512 printable ASCII characters, no spaces;
   * e.g. a client message's id (`@StreamInput({ envelope: true })`).
   */
  idempotencyKey?: string;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,512}$/;

/** Throws `BAD_REQUEST` for a malformed idempotency key. */
export function checkIdempotencyKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, 'idempotencyKey must be 1 to 512 printable ASCII characters without spaces');
  }
}

/**
 * What `StreamHub.publish()` refuses with `BAD_REQUEST` before anything is stored: a bad topic,
 * a presence topic (the hub's own), a malformed idempotency key, or a key for an adapter that
 * cannot publish idempotently.
 */
export function checkPublish(topic: string, key: unknown, idempotent: boolean, adapterName: string): void {
  checkTopic(topic);
  if (topic.endsWith(PRESENCE_SUFFIX)) {
    throw new StreamException(StreamErrorCode.BAD_REQUEST, `Topics ending in "${PRESENCE_SUFFIX}" carry presence diffs: publish() refuses them`);
  }
  if (key === undefined) return;
  checkIdempotencyKey(key);
  if (!idempotent) throw new StreamException(StreamErrorCode.BAD_REQUEST, `The hub adapter ${adapterName} does not support idempotencyKey`);
}
