import { BadRequestException, Body, Controller, Param, Post, UseGuards, ValidationPipe } from '@nestjs/common';
import {
  EMPTY,
  Observable,
  ReplaySubject,
  concat,
  finalize,
  map,
  of,
  range,
  share,
  take,
  throwError,
  timer,
} from 'rxjs';
import {
  LastEventId,
  Stream,
  StreamErrorCode,
  StreamException,
  StreamHub,
  StreamParams,
  StreamTicketService,
  tracked,
} from '../../lib/index.js';
import type { PresenceEvent, PresenceHandle, StreamEvent } from '../../lib/index.js';
import { DemoAuthGuard } from './demo-auth.guard.js';
import type { ChatEntry } from './demo.events.js';
import { ChatMessage, ChatParams, CompleteParams, CounterParams, FailParams, PresenceParams, TypingMessage } from './demo.params.js';
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
  /** This instance's presence handles of chat subscriptions, by `room\nname`. */
  private readonly present = new Map<string, Set<PresenceHandle<{ typing: boolean }>>>();

  constructor(
    private readonly hub: StreamHub,
    private readonly tickets: StreamTicketService,
  ) {}

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

  /**
   * A chat room: the room's hub topic, resumable; `history=N` on a first subscribe replays the
   * room's last N messages first; `name=` shows the subscription in the room's presence
   * (`demo/presence`) while it lasts. With REDIS_URL, rooms are shared by every instance.
   */
  @Stream('chat')
  chat(@StreamParams(params) { room, history, name }: ChatParams, @LastEventId() lastEventId?: string): Observable<StreamEvent<ChatEntry>> {
    const topic = `chat:${room}`;
    const messages = this.hub.stream<ChatEntry>(topic, { lastEventId, history });
    if (name === undefined) return messages;
    // Typing indicators (`POST /demo/chat/:room/typing`) update this subscription's meta.
    const id = `${room}\n${name}`;
    let handle: PresenceHandle<{ typing: boolean }> | undefined;
    let ended = false;
    return messages.pipe(
      this.hub.withPresence(topic, name, { typing: false }, (tracked) => {
        if (ended) return;
        handle = tracked;
        let handles = this.present.get(id);
        if (!handles) this.present.set(id, (handles = new Set()));
        handles.add(tracked);
      }),
      finalize(() => {
        ended = true;
        const handles = this.present.get(id);
        if (handle && handles?.delete(handle) && handles.size === 0) this.present.delete(id);
      }),
    );
  }

  /** Who is in a chat room: a `state` event, then join/leave diffs (PROTOCOL.md §6.5); resumable. */
  @Stream('presence')
  presence(@StreamParams(params) { room }: PresenceParams, @LastEventId() lastEventId?: string): Observable<StreamEvent<PresenceEvent>> {
    return this.hub.presenceStream(`chat:${room}`, { lastEventId });
  }

  /** Typing on/off for `from`'s subscriptions to a room on this instance: 201 `{ updated }`. */
  @Post('chat/:room/typing')
  async typing(@Param('room') room: string, @Body(params) { from, typing }: TypingMessage): Promise<{ updated: number }> {
    const handles = [...(this.present.get(`${room}\n${from}`) ?? [])];
    await Promise.all(handles.map((h) => h.update({ typing })));
    return { updated: handles.length };
  }

  /** A random walk, 20 values per second (`{ t, v }`, id a sequence number); resumes from a short history. */
  @Stream('ticker')
  tickerStream(@LastEventId() lastEventId?: string): Observable<StreamEvent<{ t: number; v: number }>> {
    return this.ticker.stream(lastEventId);
  }

  /** Posts to a room: 201 `{ id }` (the event id), 400 on invalid input. */
  @Post('chat/:room')
  async post(@Param('room') room: string, @Body(params) message: ChatMessage): Promise<{ id: string }> {
    if (!/^[a-z0-9-]{1,64}$/.test(room)) throw new BadRequestException('room must be 1 to 64 of a-z, 0-9 and -');
    const id = await this.hub.publish<ChatEntry>(`chat:${room}`, { from: message.from, text: message.text, at: new Date().toISOString() });
    return { id };
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
    const indexes = tokenDelayMs === 0 ? range(start, tokens.length - start) : timer(0, tokenDelayMs).pipe(take(tokens.length - start), map((i) => start + i));
    return indexes.pipe(map((index) => tracked(String(index), { token: tokens[index]!, index })));
  }
}

/** The fake model's reply to a prompt, as tokens (words with their leading space). */
export function fakeReply(prompt: string): string[] {
  const words = prompt.trim().split(/\s+/).slice(0, 50);
  const text = `You asked about "${words.join(' ')}". Here is a made-up answer, streamed one token at a time ` +
    `like a language model would, so the page can show it as it arrives. It has ${words.length} word(s) to think about, ` +
    `and it ends here.`;
  return text.split(/(?= )/);
}
