import { describe, expect, it } from 'vitest';
import { StreamException } from '../../errors/stream-exception.js';
import { InMemoryInputDedup } from './input-dedup.store.js';
import { InputRateLimiter } from './input-rate.limiter.js';
import { SubscriptionInput } from './subscription-input.js';

function make(over: Partial<ConstructorParameters<typeof SubscriptionInput>[0]> = {}) {
  return new SubscriptionInput({
    scope: 's',
    keyPrefix: 'k',
    dedup: new InMemoryInputDedup(60_000, 100, 1000),
    maxQueue: 8,
    maxMessageBytes: 100,
    normalize: (e) => (e instanceof StreamException ? e : new StreamException('INTERNAL' as never, String(e))),
    ...over,
  });
}

const settled = (p: Promise<unknown>) =>
  p.then(
    (v) => ({ ok: v }),
    (e: StreamException) => ({ code: e.code, message: e.message }),
  );

describe('SubscriptionInput', () => {
  it('hands messages over in order through an async pipe of varying delay, and answers in order', async () => {
    const input = make();
    const got: unknown[] = [];
    const order: string[] = [];
    input.observable((d) => new Promise((r) => setTimeout(() => r(d), 10 - (d as number))), false).subscribe((v) => got.push(v));
    const answers = [1, 2, 3, 4, 5].map((n) => input.offer(`m${n}`, n, 1).then(() => order.push(`m${n}`)));
    await Promise.all(answers);
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(order).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('waits for the handler to subscribe before handing over; a resent id is a duplicate, also while in flight', async () => {
    const input = make();
    const first = input.offer('a', 1, 1);
    const again = input.offer('a', 1, 1);
    const got: unknown[] = [];
    input.observable(undefined, true).subscribe((v) => got.push(v));
    expect(await first).toEqual({ duplicate: false });
    expect(await again).toEqual({ duplicate: true });
    expect(await input.offer('a', 1, 1)).toEqual({ duplicate: true });
    expect(got).toMatchObject([{ id: 'a', key: 'k:a', data: 1 }]);
  });

  it('refuses alone: a pipe error, a bad id, an oversized message; the input goes on', async () => {
    const input = make();
    const got: unknown[] = [];
    input
      .observable((d) => {
        if (d === 'bad') throw new StreamException('BAD_REQUEST' as never, 'no');
        return d;
      }, false)
      .subscribe((v) => got.push(v));
    expect(await settled(input.offer('1', 'bad', 1))).toEqual({ code: 'BAD_REQUEST', message: 'no' });
    expect(await settled(input.offer('has space', 'x', 1))).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await settled(input.offer('2', 'x', 101))).toEqual({ code: 'BAD_REQUEST', message: 'Message exceeds 100 bytes' });
    expect(await settled(input.offer('3', 'ok', 100))).toEqual({ ok: { duplicate: false } });
    expect(got).toEqual(['ok']);
  });

  it('a full queue refuses with RESOURCE_EXHAUSTED and calls the room listener once it drains', async () => {
    const input = make({ maxQueue: 2 });
    const a = input.offer('a', 1, 1);
    const b = input.offer('b', 2, 1);
    expect(input.full).toBe(true);
    let room = 0;
    input.onRoom(() => room++);
    expect(await settled(input.offer('c', 3, 1))).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    input.observable(undefined, false).subscribe();
    await Promise.all([a, b]);
    expect(room).toBe(1);
  });

  it('end() completes the input after what was queued; later messages are refused', async () => {
    const input = make();
    const got: unknown[] = [];
    let completed = false;
    const a = input.offer('a', 1, 1);
    input.end();
    expect(await settled(input.offer('b', 2, 1))).toMatchObject({ code: 'BAD_REQUEST', message: 'The input has already ended' });
    input.observable(undefined, false).subscribe({ next: (v) => got.push(v), complete: () => (completed = true) });
    await a;
    expect(got).toEqual([1]);
    expect(completed).toBe(true);
  });

  it('close() refuses what waits with NOT_FOUND and completes the input', async () => {
    const input = make();
    const a = input.offer('a', 1, 1);
    input.close();
    expect(await settled(a)).toMatchObject({ code: 'NOT_FOUND' });
    let completed = false;
    input.observable(undefined, false).subscribe({ complete: () => (completed = true) });
    expect(completed).toBe(true);
    expect(await settled(input.offer('b', 1, 1))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a handler that stops reading makes later messages refused, not queued for ever', async () => {
    const input = make();
    const sub = input.observable(undefined, false).subscribe();
    await input.offer('a', 1, 1);
    sub.unsubscribe();
    expect(await settled(input.offer('b', 1, 1))).toMatchObject({ code: 'BAD_REQUEST', message: 'The stream no longer reads client messages' });
  });

  it('the rate limit refuses the excess with retryAfterMs', async () => {
    let now = 0;
    const input = make({ rate: new InputRateLimiter(2, 2, () => now) });
    input.observable(undefined, false).subscribe();
    await input.offer('a', 1, 1);
    await input.offer('b', 1, 1);
    const refused = await input.offer('c', 1, 1).catch((e: StreamException) => e);
    expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', details: { retryAfterMs: 500 } });
    now = 500;
    expect(await input.offer('d', 1, 1)).toEqual({ duplicate: false });
  });
});

describe('InMemoryInputDedup', () => {
  it('forgets after the window, the oldest id past the per-scope bound, and the least recently used scope past the total', () => {
    let now = 0;
    const store = new InMemoryInputDedup(1000, 3, 5, () => now);
    for (const id of ['1', '2', '3', '4']) store.record('a', id);
    expect(['1', '2', '3', '4'].map((id) => store.seen('a', id))).toEqual([false, true, true, true]);
    store.record('b', 'x');
    store.record('b', 'y');
    store.record('a', '5'); // a keeps 3, 4, 5 (three per scope); five in all
    expect(store.size).toBe(5);
    store.record('c', 'z'); // six: the least recently used scope (b) loses its oldest id
    expect(store.size).toBe(5);
    expect([store.seen('b', 'x'), store.seen('b', 'y'), store.seen('a', '3'), store.seen('c', 'z')]).toEqual([false, true, true, true]);
    now = 1001;
    expect(store.seen('c', 'z')).toBe(false);
  });

  it('drops the least recently used scope first when the total is reached', () => {
    const store = new InMemoryInputDedup(60_000, 10, 3);
    store.record('old', '1');
    store.record('new', '1');
    store.record('new', '2');
    store.record('new', '3');
    expect(store.seen('old', '1')).toBe(false);
    expect(['1', '2', '3'].map((id) => store.seen('new', id))).toEqual([true, true, true]);
  });
});

describe('SubscriptionInput: ackAfter', () => {
  it('acks after the work, holds the next message until then, and refuses (without remembering the id) when it fails', async () => {
    const input = make();
    const log: string[] = [];
    let fail = true;
    input.observable(undefined, true).subscribe((m) => {
      const msg = m as { id: string; ackAfter(p: Promise<unknown>): void };
      log.push(`got ${msg.id}`);
      msg.ackAfter(
        new Promise((resolve, reject) =>
          setTimeout(() => {
            log.push(`done ${msg.id}`);
            if (msg.id === 'b' && fail) reject(new StreamException('UNAVAILABLE' as never, 'store down'));
            else resolve(undefined);
          }, 5),
        ),
      );
    });
    const a = input.offer('a', 1, 1).then(() => log.push('ack a'));
    const b = settled(input.offer('b', 2, 1));
    await a;
    expect(await b).toEqual({ code: 'UNAVAILABLE', message: 'store down' });
    expect(log.filter((l) => l !== 'ack a')).toEqual(['got a', 'done a', 'got b', 'done b']);
    expect(log.indexOf('ack a')).toBeGreaterThan(log.indexOf('done a'));
    fail = false;
    expect(await input.offer('b', 2, 1)).toEqual({ duplicate: false });
  });
});
