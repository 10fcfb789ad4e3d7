import { BadRequestException, Body, Controller, Param, Post, ValidationPipe } from '@nestjs/common';
import { Observable, finalize, ignoreElements, merge, tap } from 'rxjs';
import { LastEventId, Stream, StreamHub, StreamInput, StreamParams } from '../../lib/index.js';
import type { PresenceEvent, PresenceHandle, StreamEvent, StreamInputMessage } from '../../lib/index.js';
import type { ChatEntry } from './demo.events.js';
import { ChatInput, ChatMessage, ChatParams, EchoInput, PresenceParams, TypingMessage } from './demo.params.js';

const params = new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true, stopAtFirstError: true });

/**
 * The sample's chat: `demo/chat` (two-way: the room's messages out, the user's lines and
 * typing state in), `demo/presence`, `demo/echo`, and the HTTP routes other services publish
 * through. Stream names are a public contract (README, PROTOCOL.md).
 */
@Controller('demo')
export class ChatController {
  /** This instance's presence handles of chat subscriptions, by `room\nname`. */
  private readonly present = new Map<string, Set<PresenceHandle<{ typing: boolean }>>>();

  constructor(private readonly hub: StreamHub) {}

  /**
   * A chat room: the room's hub topic, resumable; `history=N` on a first subscribe replays the
   * room's last N messages first; `name=` shows the subscription in the room's presence
   * (`demo/presence`) while it lasts. Two-way: each client message `{ text }` is published to
   * the room as from `name` (once per message id, across retries and instances), `{ typing }`
   * updates the subscription's presence. With REDIS_URL, rooms are shared by every instance.
   */
  @Stream('chat', { input: true })
  chat(
    @StreamParams(params) { room, history, name }: ChatParams,
    @LastEventId() lastEventId: string | undefined,
    @StreamInput({ type: ChatInput, envelope: true }, params) input$: Observable<StreamInputMessage<ChatInput>>,
  ): Observable<StreamEvent<ChatEntry>> {
    const topic = `chat:${room}`;
    const messages = this.hub.stream<ChatEntry>(topic, { lastEventId, history });
    let handle: PresenceHandle<{ typing: boolean }> | undefined;
    // Each message is acked once its line is in the room (or its typing state set).
    const sends = input$.pipe(
      tap((m) => m.ackAfter(this.send(topic, name ?? 'guest', m, handle))),
      ignoreElements(),
    );
    if (name === undefined) return merge(messages, sends);
    const id = `${room}\n${name}`;
    let ended = false;
    const present = messages.pipe(
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
    return merge(present, sends);
  }

  private async send(
    topic: string,
    from: string,
    { key, data }: StreamInputMessage<ChatInput>,
    handle: PresenceHandle<{ typing: boolean }> | undefined,
  ): Promise<void> {
    // Idempotent on the message: a resend that reaches another instance after a crash publishes nothing.
    const entry: ChatEntry = { from, text: data.text ?? '', at: new Date().toISOString() };
    if (data.text !== undefined) await this.hub.publish<ChatEntry>(topic, entry, { idempotencyKey: key });
    if (data.typing !== undefined) await handle?.update({ typing: data.typing });
  }

  /** Who is in a chat room: a `state` event, then join/leave diffs (PROTOCOL.md §6.5); resumable. */
  @Stream('presence')
  presence(@StreamParams(params) { room }: PresenceParams, @LastEventId() lastEventId?: string): Observable<StreamEvent<PresenceEvent>> {
    return this.hub.presenceStream(`chat:${room}`, { lastEventId });
  }

  /**
   * Echo, the smallest two-way stream: each message `{ text }` comes back upper-cased, with
   * its sequence number; `{ done: n }` when the client half-closes.
   */
  @Stream('echo', { input: true })
  echo(@StreamInput({ type: EchoInput }, params) input$: Observable<EchoInput>): Observable<{ n: number; text: string } | { done: number }> {
    let n = 0;
    return new Observable((subscriber) =>
      input$.subscribe({
        next: ({ text }) => subscriber.next({ n: ++n, text: text.toUpperCase() }),
        complete: () => {
          subscriber.next({ done: n });
          subscriber.complete();
        },
        error: (e: unknown) => subscriber.error(e),
      }),
    );
  }

  /** Typing on/off for `from`'s subscriptions to a room on this instance: 201 `{ updated }`. */
  @Post('chat/:room/typing')
  async typing(@Param('room') room: string, @Body(params) { from, typing }: TypingMessage): Promise<{ updated: number }> {
    const handles = [...(this.present.get(`${room}\n${from}`) ?? [])];
    await Promise.all(handles.map((h) => h.update({ typing })));
    return { updated: handles.length };
  }

  /** Posts to a room from another service: 201 `{ id }` (the event id), 400 on invalid input. */
  @Post('chat/:room')
  async post(@Param('room') room: string, @Body(params) message: ChatMessage): Promise<{ id: string }> {
    if (!/^[a-z0-9-]{1,64}$/.test(room)) throw new BadRequestException('room must be 1 to 64 of a-z, 0-9 and -');
    const id = await this.hub.publish<ChatEntry>(`chat:${room}`, { from: message.from, text: message.text, at: new Date().toISOString() });
    return { id };
  }
}
