/**
 * Type-level tests of `createClient<Streams>()` with the client file that
 * `nestjs-longlink generate` wrote for the sample (`sample/generated/streams.client.ts`):
 * each `@ts-expect-error` line must be an error, so `npm run typecheck` fails if the compiler
 * stops rejecting it; the other lines must compile. Nothing here runs.
 */
import type { Observable } from 'rxjs';
import { createClient, type ClientEvent, type LonglinkChannel } from '../../lib/client/index.js';
import { demoChat, demoCounter, type ChatEntry, type ChatInput, type DemoCounterEvent, type Streams } from '../../sample/generated/streams.client.js';

declare const expectType: <T>(value: T) => void;

// --- by name: names, params and data come from the generated map ---
const client = createClient<Streams>({ url: 'http://127.0.0.1:3000' });
expectType<Observable<DemoCounterEvent>>(client.stream('demo/counter'));
expectType<Observable<DemoCounterEvent>>(client.stream('demo/counter', { count: 3, intervalMs: 0 }));
expectType<Observable<DemoCounterEvent>>(client.stream('demo/counter', { count: 3 }, { lastEventId: '2' }));
expectType<Observable<{ token: string; index: number }>>(client.stream('demo/complete', { prompt: 'hi' }));
expectType<Observable<ClientEvent<ChatEntry>>>(client.events('demo/chat', { room: 'lobby', history: 20 }));
expectType<AsyncIterableIterator<{ ok: boolean }>>(client.iterate('demo/secure'));
client.stream('demo/counter').subscribe(({ n }) => expectType<number>(n));
// @ts-expect-error a misspelt name does not compile
client.stream('demo/countr');
// @ts-expect-error wrong param type
client.stream('demo/counter', { count: '3' });
// @ts-expect-error unknown param
client.stream('demo/counter', { cuont: 3 });
// @ts-expect-error required params missing (demo/chat needs a room)
client.stream('demo/chat');
// @ts-expect-error a stream without params takes none
client.stream('demo/clock', { anything: true });
// @ts-expect-error the data is not what the server emits
expectType<Observable<{ n: string }>>(client.stream('demo/counter'));

// --- the sample's two-way streams: channel() by name takes the generated map's `input` ---
expectType<LonglinkChannel<ChatEntry, ChatInput>>(client.channel('demo/chat', { room: 'lobby', name: 'ann' }));
expectType<Observable<ClientEvent<ChatEntry>>>(client.channel('demo/chat', { room: 'lobby' }).events);
void client.channel('demo/chat', { room: 'lobby' }).send({ text: 'hi', typing: false });
void client.channel('demo/echo').send({ text: 'hi' });
expectType<LonglinkChannel<ChatEntry, ChatInput>>(createClient().channel(demoChat, { room: 'lobby' }));
// @ts-expect-error the message is checked against the server's input type
void client.channel('demo/chat', { room: 'lobby' }).send({ text: 1 });
// @ts-expect-error demo/echo's text is required
void client.channel('demo/echo').send({});

// --- the generated contracts work on the same client and on an untyped one ---
expectType<Observable<DemoCounterEvent>>(client.stream(demoCounter, { count: 3 }));
expectType<Observable<DemoCounterEvent>>(createClient().stream(demoCounter, { count: 3 }));
// @ts-expect-error contract params are checked
createClient().stream(demoCounter, { count: 'three' });

// --- without a map, the string API stays untyped ---
const untyped = createClient();
expectType<Observable<unknown>>(untyped.stream('demo/countr', { anything: true }));
expectType<Observable<{ n: number }>>(untyped.stream<{ n: number }>('demo/counter'));

// --- two-way streams: channel() typed by a map entry's `input`, or by a contract's third type ---
interface ChatStreams {
  'x/chat': { params: { room: string }; event: { text: string; from: string }; input: { text: string } };
  'x/feed': { params: Record<string, never>; event: number };
}
const duplex = createClient<ChatStreams>({ url: 'http://127.0.0.1:3000' });
const chat = duplex.channel('x/chat', { room: 'a' }, { maxPending: 10 });
chat.subscribe((line) => expectType<string>(line.from));
expectType<Promise<void>>(chat.send({ text: 'hi' }));
// @ts-expect-error the map's input type is { text: string }
void chat.send({ txt: 'hi' });
// @ts-expect-error required params missing
duplex.channel('x/chat');
expectType<Promise<void>>(duplex.channel('x/feed').send('anything'));
