import { backoff, later } from './client.options.js';
import type { RetryOptions } from './client.types.js';
import { StreamError } from './stream-error.js';

/** How a channel's messages reach the server on one (re)subscription: set once the server holds it. */
export interface InputLink {
  /** Sends one message, its data as JSON text (WebSocket `input`, gRPC `input`, SSE POST). */
  send(id: string, json: string): void;
  /** Sends the half-close. */
  end(): void;
  /** One message in flight at a time (SSE: each POST waits for the previous answer, to keep order). */
  serial: boolean;
}

/** The client side of one channel's messages (made by {@link channelInput}). */
export interface ChannelInput {
  /** The channel key sent at subscribe (PROTOCOL.md §7.1): 128 random bits, base64url. */
  readonly key: string;
  send: (data: unknown) => Promise<void>;
  /** Half-close: sent once every message before it is answered. */
  complete: () => void;
  /** The server holds a (re)subscription: what has no answer goes again, in order. */
  attach(link: InputLink): void;
  /** The subscription is gone (until the next one): answers to what was sent will not come. */
  detach(): void;
  /** The answer to message `id` (`undefined`: to the half-close) on `link`; other ids are ignored. */
  answer(link: InputLink, id: string | undefined, error?: StreamError): void;
  /** The channel ended: every message without an answer is refused with `error`. */
  fail(error: StreamError): void;
}

/** One message: `sent` on the current link without an answer yet; `done` once answered for good. */
interface Message {
  id: string;
  json: string;
  sent?: boolean;
  done?: boolean;
  error?: StreamError;
  tries: number;
  /** `NOT_FOUND` answers on the current link. */
  lost: number;
  ok(): void;
  ko(error: StreamError): void;
}

/**
 * Refusals that concern the moment, not the message (§7.1): resent after a backoff or the
 * resubscription. `NOT_FOUND` (the subscription is ending, or moving) only 3 times on one link: a
 * server that keeps saying it while the subscription lives rejects the send.
 */
const RESEND = ['UNAVAILABLE', 'RESOURCE_EXHAUSTED'];

/**
 * A channel's messages (PROTOCOL.md §7): ids from a counter, a bounded queue of the messages
 * without an answer, sent in order once the server holds the subscription and resent in order
 * after every resubscription (the server acks ids it already took as duplicates). After a
 * transient refusal nothing is sent until the backoff has passed and every message in flight is
 * answered, so a refused message goes again before the ones after it. `send` promises settle
 * in call order.
 */
export function channelInput(retry: Required<RetryOptions>, maxPending: number, maxBytes: number): ChannelInput {
  const queue: Message[] = [];
  let seq = 0;
  let link: InputLink | undefined;
  let inFlight = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let drain = false;
  let attempts = 0;
  let ending = false;
  let endSent = false;
  const refuse = (code: string, message: string) => Promise.reject(new StreamError(code, message));
  const settle = () => {
    while (queue[0]?.done) {
      const m = queue.shift()!;
      if (m.error) m.ko(m.error);
      else m.ok();
    }
  };
  const wait = (error: StreamError) => {
    clearTimeout(timer);
    const hint = (error.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    timer = later(() => ((timer = undefined), pump()), backoff(retry, attempts++, hint));
  };
  const pump = () => {
    const l = link;
    if (!l || timer || (drain && inFlight)) return;
    drain = false;
    for (const m of queue) {
      if (l.serial && inFlight) break;
      if (m.done || m.sent) continue;
      m.sent = true;
      inFlight++;
      l.send(m.id, m.json);
      if (link !== l) return;
    }
    if (ending && !endSent && !queue.length) {
      endSent = true;
      l.end();
    }
  };
  const detach = () => {
    link = undefined;
    inFlight = 0;
    drain = endSent = false;
    for (const m of queue) {
      m.sent = false;
      m.lost = 0;
    }
  };
  const bytes = new Uint8Array(16);
  return {
    key: btoa(String.fromCharCode(...crypto.getRandomValues(bytes)))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, ''),
    send(data) {
      let json: string | undefined;
      try {
        json = JSON.stringify(data);
      } catch {
        // not JSON: refused below
      }
      if (json === undefined) return refuse('BAD_REQUEST', 'not JSON');
      if (new Blob([json]).size > maxBytes) return refuse('BAD_REQUEST', 'maxMessageBytes exceeded');
      if (ending) return refuse('BAD_REQUEST', 'Input ended');
      if (queue.length >= maxPending) return refuse('RESOURCE_EXHAUSTED', 'maxPending reached');
      return new Promise((ok, ko) => {
        queue.push({ id: String(++seq), json: json, tries: 0, lost: 0, ok, ko });
        pump();
      });
    },
    complete() {
      ending = true;
      pump();
    },
    attach(l) {
      detach();
      link = l;
      pump();
    },
    detach,
    answer(l, id, error) {
      if (l !== link) return;
      let resend = !!error && RESEND.includes(error.code);
      if (id === undefined) {
        if (resend && endSent) {
          endSent = false;
          wait(error!);
        }
        return;
      }
      const m = queue.find((q) => q.id === id && q.sent);
      if (!m) return;
      if (error?.code === 'NOT_FOUND') resend = ++m.lost < 4;
      m.sent = false;
      inFlight--;
      if (resend && ++m.tries < retry.maxAttempts) {
        drain = true;
        wait(error!);
      } else {
        if (!error) attempts = 0;
        m.done = true;
        m.error = error;
        settle();
      }
      pump();
    },
    fail(error) {
      detach();
      clearTimeout(timer);
      timer = undefined;
      ending = false;
      for (const m of queue) {
        if (m.done) continue;
        m.done = true;
        m.error = error;
      }
      settle();
    },
  };
}
