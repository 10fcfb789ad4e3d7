import type { StreamException } from '../errors/stream-exception.js';

/**
 * A running subscription: one upstream Observable feeding one writer.
 *
 * @publicApi
 */
export interface StreamHandle {
  /** Bytes waiting in this subscriber's queue now. */
  readonly queuedBytes: number;
  /** Highest `queuedBytes` seen. */
  readonly maxQueuedBytes: number;
  /** Events dropped by the `drop-oldest` / `latest` policies. */
  readonly droppedEvents: number;
  /** Id of the last event handed to the transport (the subscription's resume point), if any had one. */
  readonly lastEventId: string | undefined;
  /** Whether the subscription has ended. */
  readonly closed: boolean;
  /** The error it ended with (also a refusal, a slow-consumer cut or a shutdown), if any. */
  readonly endError: StreamException | undefined;
  /** Ends the subscription from the server side: tears the upstream down and ends the writer (with `error`, if given). */
  close(error?: StreamException): void;
}

/**
 * Bytes that several subscriptions on one connection may queue together (e.g. all the
 * subscriptions of one WebSocket). A subscription whose own queue is empty may still queue
 * one event past it, so none starves.
 */
export class QueueBudget {
  used = 0;
  constructor(readonly limit: number) {}
}
