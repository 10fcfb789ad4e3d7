import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { onSseEvents } from './raw-http.js';
import { until } from './util.js';

/** A fresh channel key (128 random bits, base64url: 22 characters). */
export function newChannel(): string {
  return randomBytes(16).toString('base64url');
}

/** An SSE subscription read with raw `http`: its status, events (parsed data) and end. */
export interface SseSubscription {
  status: number;
  body: string;
  events: { id?: string; event?: string; data: unknown }[];
  ended: boolean;
  /** Data of plain (`message`) events. */
  data(): unknown[];
  waitFor(check: (s: SseSubscription) => boolean, what: string, ms?: number): Promise<void>;
  close(): void;
}

/** GETs `url` as an event stream; resolves once the head arrives (the server then holds it). */
export function subscribeSse(url: string): Promise<SseSubscription> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
      const sub: SseSubscription = {
        status: res.statusCode ?? 0,
        body: '',
        events: [],
        ended: false,
        data: () => sub.events.filter((e) => e.event === undefined).map((e) => e.data),
        waitFor: (check, what, ms = 5000) => until(() => check(sub), ms, what),
        close: () => req.destroy(),
      };
      if (sub.status !== 200) {
        res.setEncoding('utf8');
        res.on('data', (c: string) => (sub.body += c));
      } else {
        onSseEvents(res, (f) => {
          if (f.data !== undefined) sub.events.push({ id: f.id, event: f.event, data: JSON.parse(f.data) });
        });
      }
      res.on('end', () => (sub.ended = true));
      res.on('close', () => (sub.ended = true));
      resolve(sub);
    });
    req.on('error', reject);
  });
}

/** POSTs a body to the client message endpoint; resolves with the status, JSON body and headers. */
export async function postInput(
  url: string,
  body: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}
