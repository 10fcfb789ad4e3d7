import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { StreamErrorCode } from '../protocol/stream-error-code.js';
import { StreamException } from '../errors/stream-exception.js';
import type { FlowControlOptions } from '../interfaces/longlink-options.interface.js';
import { StreamEvent, tracked } from '../interfaces/stream-event.interface.js';
import { pipeToWriter } from './pipe-to-writer.js';
import { QueueBudget } from './stream-handle.js';
import type { StreamWriter } from './stream-writer.interface.js';

/** A writer whose buffer the test fills and drains by hand. */
class ManualWriter implements StreamWriter<string> {
  written: string[] = [];
  accepting = true;
  ended: { error?: StreamException } | undefined;
  overflowed: StreamException | undefined;
  private drain = () => {};
  private close = () => {};
  frame(event: StreamEvent) {
    return event.id ?? '';
  }
  sizeOf(frame: string) {
    return 10 + frame.length * 0;
  }
  write(frame: string) {
    this.written.push(frame);
    return this.accepting;
  }
  onDrain(fn: () => void) {
    this.drain = fn;
  }
  onClose(fn: () => void) {
    this.close = fn;
  }
  end(error?: StreamException) {
    this.ended = { error };
  }
  overflow(error: StreamException) {
    this.overflowed = error;
  }
  resume() {
    this.accepting = true;
    this.drain();
  }
  peerGone() {
    this.close();
  }
}

function setup(flow: Required<FlowControlOptions>) {
  const source = new Subject<StreamEvent>();
  const writer = new ManualWriter();
  let finished = 0;
  const handle = pipeToWriter(source, writer, { flow, onFinish: () => finished++ });
  const emit = (...ids: number[]) => ids.forEach((i) => source.next(tracked(String(i), i)));
  return { source, writer, handle, emit, finished: () => finished };
}

describe('pipeToWriter', () => {
  it('writes straight through while the writer accepts, and ends after completion', () => {
    const { source, writer, handle, emit, finished } = setup({ maxQueueBytes: 30, policy: 'disconnect' });
    emit(1, 2, 3);
    source.complete();
    expect(writer.written).toEqual(['1', '2', '3']);
    expect(writer.ended).toEqual({ error: undefined });
    expect(handle.closed).toBe(true);
    expect(finished()).toBe(1);
  });

  it('queues while blocked, flushes in order on drain, and sends the end after the queue', () => {
    const { source, writer, handle, emit } = setup({ maxQueueBytes: 30, policy: 'disconnect' });
    writer.accepting = false;
    emit(1, 2, 3);
    source.error(new StreamException(StreamErrorCode.UNAVAILABLE, 'x'));
    expect(writer.written).toEqual(['1']);
    expect(handle.queuedBytes).toBe(20);
    expect(writer.ended).toBeUndefined();
    writer.resume();
    expect(writer.written).toEqual(['1', '2', '3']);
    expect(writer.ended?.error?.code).toBe('UNAVAILABLE');
  });

  it('disconnect: overflows with RESOURCE_EXHAUSTED and unsubscribes the source', () => {
    const { source, writer, handle, emit } = setup({ maxQueueBytes: 30, policy: 'disconnect' });
    writer.accepting = false;
    emit(1, 2, 3, 4); // 1 written, 2..4 queued = 30 bytes
    expect(handle.queuedBytes).toBe(30);
    emit(5);
    expect(writer.overflowed?.code).toBe(StreamErrorCode.RESOURCE_EXHAUSTED);
    expect(source.observed).toBe(false);
    expect(handle.closed).toBe(true);
    expect(handle.maxQueuedBytes).toBe(30);
  });

  it('drop-oldest: keeps the newest that fit', () => {
    const { writer, handle, emit } = setup({ maxQueueBytes: 30, policy: 'drop-oldest' });
    writer.accepting = false;
    emit(1, 2, 3, 4, 5, 6);
    expect(handle.queuedBytes).toBe(30);
    expect(handle.droppedEvents).toBe(2);
    writer.resume();
    expect(writer.written).toEqual(['1', '4', '5', '6']);
    expect(handle.droppedEvents).toBe(2);
  });

  it('latest: keeps only the newest once the queue is full', () => {
    const { writer, handle, emit } = setup({ maxQueueBytes: 30, policy: 'latest' });
    writer.accepting = false;
    emit(1, 2, 3, 4, 5);
    writer.resume();
    expect(writer.written).toEqual(['1', '5']);
    expect(handle.droppedEvents).toBe(3);
  });

  it('tears the source down when the peer goes', () => {
    const { source, writer, handle, finished } = setup({ maxQueueBytes: 30, policy: 'disconnect' });
    writer.peerGone();
    expect(source.observed).toBe(false);
    expect(handle.closed).toBe(true);
    expect(finished()).toBe(1);
    expect(writer.ended).toBeUndefined();
  });

  it('close() from the server drops the queue and ends the writer with the error', () => {
    const { source, writer, handle, emit } = setup({ maxQueueBytes: 30, policy: 'disconnect' });
    writer.accepting = false;
    emit(1, 2);
    handle.close(new StreamException(StreamErrorCode.UNAVAILABLE, 'bye'));
    expect(source.observed).toBe(false);
    expect(writer.ended?.error?.message).toBe('bye');
    expect(handle.queuedBytes).toBe(0);
  });

  it('an event that cannot be encoded ends the stream with INTERNAL', () => {
    const { source, writer } = setup({ maxQueueBytes: 30, policy: 'disconnect' });
    writer.frame = (event: StreamEvent) => event.json;
    source.next(new StreamEvent({ big: 1n }));
    expect(writer.ended?.error?.code).toBe('INTERNAL');
    expect(source.observed).toBe(false);
  });

  it('a shared budget bounds the queues of several subscriptions together', () => {
    const budget = new QueueBudget(40);
    const flow = { maxQueueBytes: 1000, policy: 'disconnect' as const };
    const a = { source: new Subject<StreamEvent>(), writer: new ManualWriter() };
    const b = { source: new Subject<StreamEvent>(), writer: new ManualWriter() };
    const ha = pipeToWriter(a.source, a.writer, { flow, budget });
    const hb = pipeToWriter(b.source, b.writer, { flow: { ...flow, policy: 'drop-oldest' }, budget });
    a.writer.accepting = b.writer.accepting = false;
    for (const i of [1, 2, 3]) a.source.next(tracked(String(i), i)); // 1 written, 20 bytes queued
    for (const i of [1, 2, 3, 4]) b.source.next(tracked(String(i), i)); // 1 written, 20 queued, then drops
    expect(budget.used).toBe(40);
    expect(hb.droppedEvents).toBe(1);
    a.source.next(tracked('4', 4)); // a would pass the shared limit: disconnect
    expect(a.writer.overflowed?.code).toBe('RESOURCE_EXHAUSTED');
    expect(ha.closed).toBe(true);
    expect(budget.used).toBe(20); // a's queue released
    hb.close();
    expect(budget.used).toBe(0);
  });

  it('event ids may not be empty or contain line breaks', () => {
    expect(() => tracked('', 1)).toThrow('may not be empty');
    expect(() => tracked('a\rb', 1)).toThrow('CR, LF or NUL');
  });

  it('a writer that throws ends the subscription, not the process', () => {
    const { source, writer, handle, emit } = setup({ maxQueueBytes: 30, policy: 'disconnect' });
    writer.write = () => {
      throw new Error('socket exploded');
    };
    expect(() => emit(1)).not.toThrow();
    expect(handle.closed).toBe(true);
    expect(source.observed).toBe(false);
  });

  it('lastEventId follows what was handed to the writer (the resume point), not what waits in the queue', () => {
    const { writer, handle, emit } = setup({ maxQueueBytes: 1000, policy: 'disconnect' });
    expect(handle.lastEventId).toBeUndefined();
    emit(1, 2);
    expect(handle.lastEventId).toBe('2');
    writer.accepting = false;
    emit(3); // written, buffer now full
    emit(4, 5); // queued
    expect(handle.lastEventId).toBe('3');
    writer.resume();
    expect(handle.lastEventId).toBe('5');
    handle.close(new StreamException(StreamErrorCode.UNAVAILABLE, 'bye'));
    expect(handle.endError?.code).toBe('UNAVAILABLE');
  });

  it('counts events, bytes, drops and slow-consumer cuts into the stream stats when metrics are on', () => {
    const stats = { events: 0, bytes: 0, dropped: 0, slowDisconnects: 0 };
    const source = new Subject<StreamEvent>();
    const writer = new ManualWriter();
    pipeToWriter(source, writer, { flow: { maxQueueBytes: 20, policy: 'drop-oldest' }, stats: stats as never });
    const emit = (...ids: number[]) => ids.forEach((i) => source.next(tracked(String(i), i)));
    emit(1, 2);
    writer.accepting = false;
    emit(3, 4, 5, 6); // 3 written; 4, 5 queued; 6 drops 4
    expect(stats).toMatchObject({ events: 3, dropped: 1 });
    writer.resume();
    expect(stats.events).toBe(5);
    // ManualWriter frames cost 10 bytes, the default overhead is 64: bytes never go negative.
    expect(stats.bytes).toBe(0);
    const cut = { events: 0, bytes: 0, dropped: 0, slowDisconnects: 0 };
    const source2 = new Subject<StreamEvent>();
    const slow = new ManualWriter();
    pipeToWriter(source2, slow, { flow: { maxQueueBytes: 20, policy: 'disconnect' }, stats: cut as never });
    slow.accepting = false;
    for (let i = 0; i < 5; i++) source2.next(tracked(String(i), i));
    expect(cut.slowDisconnects).toBe(1);
  });
});
