import { Controller, Post, UseGuards, ValidationPipe } from '@nestjs/common';
import { EMPTY, Observable, ReplaySubject, concat, map, of, range, share, take, throwError, timer } from 'rxjs';
import { LastEventId, Stream, StreamErrorCode, StreamException, StreamParams, StreamTicketService, tracked } from '../../lib/index.js';
import type { StreamEvent } from '../../lib/index.js';
import { DemoAuthGuard } from './demo-auth.guard.js';
import { CompleteParams, CounterParams, FailParams } from './demo.params.js';
import { Ticker } from './ticker.js';

const params = new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true, stopAtFirstError: true });

/**
 * The sample's streams. Their names and behaviour are a public contract (README,
 * PROTOCOL.md, the conformance suite).
 */
@Controller('demo')
export class DemoController {
  /** Upstream subscriptions of `demo/clock` right now (1 while anyone listens). */
  clockUpstreams = 0;

  private readonly ticker = new Ticker();

  constructor(private readonly tickets: StreamTicketService) {}

  private readonly clock$: Observable<StreamEvent<{ now: string }>> = new Observable<number>((subscriber) => {
    this.clockUpstreams++;
    const sub = timer(0, 1000).subscribe(subscriber);
    return () => {
      this.clockUpstreams--;
      sub.unsubscribe();
    };
  }).pipe(
    map(() => {
      const now = new Date();
      return tracked(String(now.getTime()), { now: now.toISOString() });
    }),
    // One upstream for all subscribers; a newcomer gets the latest tick at once.
    share({ connector: () => new ReplaySubject(1), resetOnRefCountZero: true }),
  );

  /**
   * `{ n }` for n = from .. from+count-1, id `String(n)`; resumes after the last event id.
   * Also served as the typed gRPC method `sample.v1.Demo/Counter`.
   */
  @Stream('counter', { grpc: { service: 'Demo', method: 'Counter' } })
  counter(
    @StreamParams(params) { from, count, intervalMs }: CounterParams,
    @LastEventId() lastEventId?: string,
  ): Observable<StreamEvent<{ n: number }>> {
    let start = from;
    if (lastEventId !== undefined) {
      if (!/^-?\d{1,15}$/.test(lastEventId)) {
        throw new StreamException(StreamErrorCode.BAD_REQUEST, 'lastEventId must be an integer');
      }
      start = Math.max(from, Number(lastEventId) + 1);
    }
    const remaining = from + count - start;
    if (remaining <= 0) return EMPTY;
    const values = intervalMs === 0 ? range(0, remaining) : timer(0, intervalMs).pipe(take(remaining));
    return values.pipe(map((i) => tracked(String(start + i), { n: start + i })));
  }

  /** `{ now }` every second; one shared upstream. */
  @Stream('clock')
  clock(): Observable<StreamEvent<{ now: string }>> {
    return this.clock$;
  }

  /** `{ n }` for n < after, then a plain Error: clients get INTERNAL with a generic message. */
  @Stream('fail')
  fail(@StreamParams(params) { after }: FailParams): Observable<StreamEvent<{ n: number }>> {
    return concat(
      range(0, after).pipe(map((n) => tracked(String(n), { n }))),
      throwError(() => new Error('demo/fail: this internal detail must never reach a client')),
    );
  }

  /** A random walk, 20 values per second (`{ t, v }`, id a sequence number); resumes from a short history. */
  @Stream('ticker')
  tickerStream(@LastEventId() lastEventId?: string): Observable<StreamEvent<{ t: number; v: number }>> {
    return this.ticker.stream(lastEventId);
  }

  /**
   * A stream ticket for `demo/secure` (single use, 30 s), for a browser's `EventSource`, which
   * cannot send the bearer token: `201 { ticket, stream, expiresInMs }`. The caller
   * authenticates as for any route (here the bearer token; in an app, its session).
   */
  @Post('ticket')
  @UseGuards(DemoAuthGuard)
  ticket(): { ticket: string; stream: string; expiresInMs: number } {
    const stream = 'demo/secure';
    return { ticket: this.tickets.issue(stream, { subject: 'demo-user', ttlMs: 30_000 }), stream, expiresInMs: 30_000 };
  }

  /**
   * Needs the bearer token, the WebSocket init payload `{ token }` or a ticket from
   * `POST /demo/ticket` (see DemoAuthGuard); emits `{ ok: true }` and completes.
   */
  @Stream('secure')
  @UseGuards(DemoAuthGuard)
  secure(): Observable<StreamEvent<{ ok: boolean }>> {
    return of(tracked('1', { ok: true }));
  }

  /**
   * A fake LLM: `POST /demo/complete` with `{"prompt":"..."}` streams a reply token by token
   * (`{ token, index }`, id = index) and completes. Deterministic for a prompt, so a client
   * that reconnects with `Last-Event-ID: <index>` gets the rest of the same reply.
   */
  @Stream('complete', { sse: { method: 'POST', maxBodyBytes: 8 * 1024 } })
  complete(
    @StreamParams(params) { prompt, tokenDelayMs }: CompleteParams,
    @LastEventId() lastEventId?: string,
  ): Observable<StreamEvent<{ token: string; index: number }>> {
    const tokens = fakeReply(prompt);
    let start = 0;
    if (lastEventId !== undefined) {
      if (!/^\d{1,6}$/.test(lastEventId)) throw new StreamException(StreamErrorCode.BAD_REQUEST, 'lastEventId must be a token index');
      start = Number(lastEventId) + 1;
    }
    if (start >= tokens.length) return EMPTY;
    const indexes =
      tokenDelayMs === 0
        ? range(start, tokens.length - start)
        : timer(0, tokenDelayMs).pipe(
            take(tokens.length - start),
            map((i) => start + i),
          );
    return indexes.pipe(map((index) => tracked(String(index), { token: tokens[index]!, index })));
  }
}

/** The fake model's reply to a prompt, as tokens (words with their leading space). */
export function fakeReply(prompt: string): string[] {
  const words = prompt.trim().split(/\s+/).slice(0, 50);
  const text =
    `You asked about "${words.join(' ')}". Here is a made-up answer, streamed one token at a time ` +
    `like a language model would, so the page can show it as it arrives. It has ${words.length} word(s) to think about, ` +
    `and it ends here.`;
  return text.split(/(?= )/);
}
