/**
 * Type-level tests of the typed contract: each `@ts-expect-error` line must be an error, so
 * `npm run typecheck` (part of `npm test`) fails if the compiler stops rejecting it; the other
 * lines must compile. Nothing here runs.
 */
import type { ExecutionContext } from '@nestjs/common';
import { of, type Observable } from 'rxjs';
import { createClient } from '../../lib/client/index.js';
import { Stream, StreamHub, getStreamCall, isStreamContext, tracked, type StreamCall, type StreamEvent } from '../../lib/index.js';
import { countStream, echoStream, type CountEvent } from '../fixtures/contract/streams.contract.js';

declare const expectType: <T>(value: T) => void;
declare const hub: StreamHub;

// --- server: the handler must emit the contract's event data ---
export class Handlers {
  @Stream(countStream)
  plain(): Observable<CountEvent> {
    return of({ n: 1, label: 'a' });
  }

  @Stream(countStream)
  trackedEvents(): Observable<StreamEvent<CountEvent>> {
    return of(tracked(1, { n: 1, label: 'a' }));
  }

  @Stream(countStream)
  async promised(): Promise<Observable<CountEvent>> {
    return of({ n: 1, label: 'a' });
  }

  @Stream(countStream)
  fromHub(): Observable<StreamEvent<CountEvent>> {
    return hub.stream<CountEvent>('count');
  }

  // @ts-expect-error the event data has the wrong shape (n is a string)
  @Stream(countStream)
  wrongData(): Observable<{ n: string; label: string }> {
    return of({ n: '1', label: 'a' });
  }

  // @ts-expect-error an untyped hub stream does not emit the contract's data
  @Stream(countStream)
  untypedHub(): Observable<StreamEvent> {
    return hub.stream('count');
  }

  // @ts-expect-error a handler must return an Observable (or a Promise of one, or an AsyncIterable)
  @Stream(countStream)
  notAStream(): number {
    return 1;
  }

  // The string form stays untyped and accepts anything, as before.
  @Stream('untyped')
  untyped(): Observable<unknown> {
    return of(1);
  }
}

// --- client: names, params and data come from the contract ---
const client = createClient();
expectType<Observable<CountEvent>>(client.stream(countStream));
expectType<Observable<CountEvent>>(client.stream(countStream, { count: 3 }));
expectType<Observable<CountEvent>>(client.stream(countStream, { count: 3 }, { lastEventId: '2' }));
expectType<Observable<{ text: string }>>(client.stream(echoStream, { text: 'hi' }));
expectType<AsyncIterableIterator<CountEvent>>(client.iterate(countStream, { label: 'x' }));
client.events(countStream).subscribe((e) => {
  if (e.type === 'next') expectType<number>(e.data.n);
});
// @ts-expect-error wrong param type
client.stream(countStream, { count: 'three' });
// @ts-expect-error unknown param
client.stream(countStream, { cuont: 3 });
// @ts-expect-error required params missing
client.stream(echoStream);
// @ts-expect-error the data is not what the contract says
expectType<Observable<{ n: string }>>(client.stream(countStream));
// The string API keeps working, untyped by default.
expectType<Observable<unknown>>(client.stream('demo/counter', { anything: true }));

// --- StreamCall<User> and getStreamCall narrowing ---
interface AppUser {
  id: string;
}
declare const context: ExecutionContext;
const maybe = getStreamCall<AppUser>(context);
// @ts-expect-error without isStreamContext the call may be undefined
void maybe.user;
if (isStreamContext(context)) {
  const call: StreamCall<AppUser> = getStreamCall<AppUser>(context);
  expectType<AppUser | undefined>(call.user);
  // @ts-expect-error user is typed
  expectType<number | undefined>(call.user);
}

// --- hub: publish/stream take a type parameter ---
void hub.publish<CountEvent>('count', { n: 1, label: 'a' });
// @ts-expect-error the published data must match the type parameter
void hub.publish<CountEvent>('count', { n: 'one', label: 'a' });
