import 'reflect-metadata';
import {
  Catch,
  Controller,
  Injectable,
  Module,
  ParseIntPipe,
  UseFilters,
  UseGuards,
  UseInterceptors,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type INestApplicationContext,
  type NestInterceptor,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Observable, firstValueFrom, lastValueFrom, map, of, throwError, toArray } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StreamContext, StreamParams } from '../decorators/stream-params.decorator.js';
import { Stream } from '../decorators/stream.decorator.js';
import { StreamException } from '../errors/stream-exception.js';
import { tracked, type StreamEvent } from '../interfaces/stream-event.interface.js';
import { LonglinkModule } from '../longlink.module.js';
import { StreamCallImpl, getStreamCall } from './stream-call.js';
import { StreamInvoker } from './stream-invoker.js';
import { StreamRegistry } from './stream-registry.js';

/** What the handlers below did. */
const seen = { handlerCalls: 0, torndown: 0, contextType: '' };

@Injectable()
class HeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    seen.contextType = context.getType();
    return getStreamCall(context)?.headers['x-allow'] === 'yes';
  }
}

@Injectable()
class DoubleInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((v: unknown) => (typeof v === 'number' ? v * 2 : v)));
  }
}

class TeapotError extends Error {}

@Catch(TeapotError)
class TeapotFilter implements ExceptionFilter {
  catch(): Observable<string> {
    return of('recovered');
  }
}

@Controller('u')
class UnitController {
  @Stream('plain')
  plain() {
    seen.handlerCalls++;
    return of(1, 2);
  }

  @Stream('guarded')
  @UseGuards(HeaderGuard)
  guarded() {
    seen.handlerCalls++;
    return of('ok');
  }

  @Stream('doubled')
  @UseInterceptors(DoubleInterceptor)
  doubled() {
    return of(1, 2);
  }

  @Stream('param')
  param(@StreamParams('n', new ParseIntPipe()) n: number) {
    return of(n + 1);
  }

  @Stream('async')
  async asyncHandler() {
    return of('a');
  }

  @Stream('iterable')
  async *iterable() {
    yield 1;
    yield 2;
  }

  @Stream('bad-return')
  badReturn() {
    return 42 as unknown as Observable<number>;
  }

  @Stream('throws')
  throws(): Observable<never> {
    throw new Error('boom');
  }

  @Stream('filtered')
  @UseFilters(TeapotFilter)
  filtered() {
    return throwError(() => new TeapotError('teapot'));
  }

  @Stream('tracked')
  trackedValues() {
    return of(tracked('7', { x: 1 }));
  }

  @Stream('hold')
  hold(@StreamContext() call: StreamCallImpl) {
    return new Observable<string>((subscriber) => {
      subscriber.next(call.stream);
      return () => seen.torndown++;
    });
  }
}

@Module({ imports: [LonglinkModule.forRoot({ sse: { enabled: false } })], controllers: [UnitController] })
class UnitModule {}

describe('StreamInvoker', () => {
  let app: INestApplicationContext;
  let invoker: StreamInvoker;
  let registry: StreamRegistry;

  const call = (stream: string, init: { params?: Record<string, unknown>; headers?: Record<string, string> } = {}) =>
    new StreamCallImpl({ stream, transport: 'sse', params: init.params ?? {}, lastEventId: undefined, headers: init.headers ?? {}, raw: undefined });
  const open = (stream: string, init?: Parameters<typeof call>[1]) => invoker.open(registry.get(stream)!, call(stream, init));
  const values = async (stream: string, init?: Parameters<typeof call>[1]) =>
    (await lastValueFrom(open(stream, init).pipe(toArray()))).map((e: StreamEvent) => e.data);
  const failure = async (stream: string, init?: Parameters<typeof call>[1]) => {
    try {
      await lastValueFrom(open(stream, init).pipe(toArray()));
    } catch (error) {
      return error as StreamException;
    }
    throw new Error(`${stream} did not fail`);
  };

  beforeAll(async () => {
    app = await NestFactory.createApplicationContext(UnitModule, { logger: false });
    invoker = app.get(StreamInvoker);
    registry = app.get(StreamRegistry);
  });
  afterAll(() => app.close());
  beforeEach(() => Object.assign(seen, { handlerCalls: 0, torndown: 0, contextType: '' }));

  it('runs the handler only when subscribed, and wraps values as data events', async () => {
    const stream = open('u/plain');
    expect(seen.handlerCalls).toBe(0);
    const events = await lastValueFrom(stream.pipe(toArray()));
    expect(seen.handlerCalls).toBe(1);
    expect(events.map((e) => [e.kind, e.data, e.id])).toEqual([
      ['data', 1, undefined],
      ['data', 2, undefined],
    ]);
  });

  it('a guard sees the longlink context and the call; a refusal is PERMISSION_DENIED and the handler never runs', async () => {
    const refused = await failure('u/guarded');
    expect(refused).toBeInstanceOf(StreamException);
    expect(refused.code).toBe('PERMISSION_DENIED');
    expect(seen.handlerCalls).toBe(0);
    expect(seen.contextType).toBe('longlink');
    expect(await values('u/guarded', { headers: { 'x-allow': 'yes' } })).toEqual(['ok']);
    expect(seen.handlerCalls).toBe(1);
  });

  it('interceptors wrap the stream', async () => {
    expect(await values('u/doubled')).toEqual([2, 4]);
  });

  it('pipes transform params; a pipe refusal is BAD_REQUEST', async () => {
    expect(await values('u/param', { params: { n: '41' } })).toEqual([42]);
    expect((await failure('u/param', { params: { n: 'x' } })).code).toBe('BAD_REQUEST');
  });

  it('accepts a Promise of an Observable and an AsyncIterable', async () => {
    expect(await values('u/async')).toEqual(['a']);
    expect(await values('u/iterable')).toEqual([1, 2]);
  });

  it('anything else returned, or thrown, is INTERNAL', async () => {
    expect((await failure('u/bad-return')).code).toBe('INTERNAL');
    expect((await failure('u/throws')).code).toBe('INTERNAL');
  });

  it('an exception filter may replace an error with a stream', async () => {
    expect(await values('u/filtered')).toEqual(['recovered']);
  });

  it('tracked values carry their id', async () => {
    const [event] = await lastValueFrom(open('u/tracked').pipe(toArray()));
    expect(event).toMatchObject({ id: '7', data: { x: 1 }, kind: 'data' });
  });

  it('openDirect: only streams with no enhancers, no pipes, no custom params and a non-async handler', async () => {
    const direct = (stream: string) => invoker.openDirect(registry.get(stream)!, call(stream)) !== undefined;
    // An async generator function is not `async`: calling it runs nothing yet.
    const plain = ['u/plain', 'u/tracked', 'u/hold', 'u/throws', 'u/bad-return', 'u/iterable'];
    expect(plain.filter(direct)).toEqual(plain);
    expect(['u/guarded', 'u/doubled', 'u/param', 'u/async', 'u/filtered'].filter(direct)).toEqual([]);
    // The handler ran synchronously and its values pass as they are (the pump wraps them).
    seen.handlerCalls = 0;
    const opened = invoker.openDirect(registry.get('u/plain')!, call('u/plain'))!;
    expect(seen.handlerCalls).toBe(1);
    expect(await lastValueFrom(opened.pipe(toArray()))).toEqual([1, 2]);
    // A throwing handler or a bad return is a normalised INTERNAL error.
    const thrown = await lastValueFrom(invoker.openDirect(registry.get('u/throws')!, call('u/throws'))!).catch((e: unknown) => e);
    expect((thrown as StreamException).code).toBe('INTERNAL');
  });

  it('the call id is made on first read, unique, and the signal is aborted even when first read after abort()', () => {
    const a = call('u/plain');
    const b = call('u/plain');
    expect(a.id).not.toBe(b.id);
    expect(a.id).toBe(a.id);
    b.abort();
    expect(b.signal.aborted).toBe(true);
    expect(a.signal.aborted).toBe(false);
    a.abort();
    expect(a.signal.aborted).toBe(true);
  });

  it('unsubscribing tears the upstream down and aborts the call signal', async () => {
    const c = call('u/hold');
    const stream = invoker.open(registry.get('u/hold')!, c);
    const first = await firstValueFrom(stream); // subscribes, takes one, unsubscribes
    expect(first.data).toBe('u/hold');
    expect(seen.torndown).toBe(1);
    expect(c.signal.aborted).toBe(true);
  });
});
