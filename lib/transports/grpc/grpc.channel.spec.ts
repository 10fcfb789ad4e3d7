import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { InMemoryInputDedup } from '../../core/input/input-dedup.store.js';
import { SubscriptionInput } from '../../core/input/subscription-input.js';
import { toStreamException } from '../../errors/stream-exception.js';
import { GrpcCallInput, type GrpcDuplexCall } from './grpc.channel.js';
import type { GrpcFrame } from './grpc.framing.js';
import type { GrpcWriter } from './grpc.writer.js';

/** A bidi call's readable side as `GrpcCallInput` uses it: 'data'/'end', pause() and resume(). */
class FakeCall extends EventEmitter {
  paused = false;
  destroyed = false;
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
}

class FakeWriter {
  readonly written: GrpcFrame[] = [];
  done = false;
  write(frame: GrpcFrame): boolean {
    this.written.push(frame);
    return true;
  }
  onDrain(): void {}
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The answer bound of `Channel` (PROTOCOL.md §7.3): refusals are immediate but answered in
 * order, so they wait behind a message still in the pipes. Past 256 waiting answers the call is
 * not read until they are out. (Over a real connection grpc-js' client stops sending first when
 * no response comes, so the bound is checked here, on the reader itself.)
 */
describe('GrpcCallInput: answers waiting their turn are bounded', () => {
  it('pauses the call at 256 waiting answers and resumes once they are written', async () => {
    let release: (value: unknown) => void = () => undefined;
    const input = new SubscriptionInput({
      scope: '',
      keyPrefix: 'k',
      dedup: new InMemoryInputDedup(60_000, 100, 100),
      maxQueue: 4,
      maxMessageBytes: 1000,
      normalize: toStreamException,
    });
    // The handler's pipe holds the first message until released.
    input.observable((data) => (data === 'held' ? new Promise((resolve) => (release = () => resolve(data))) : data), false).subscribe();
    const call = new FakeCall();
    const writer = new FakeWriter();
    const reader = new GrpcCallInput(call as unknown as GrpcDuplexCall, writer as unknown as GrpcWriter, {
      mode: 'generic',
      maxDepth: 32,
      logger: new Logger('test'),
    });
    reader.attach({ stream: 's', input, maxMessageBytes: 1000 });
    const send = (id: string, data: string) => call.emit('data', { kind: 'input', id, data: Buffer.from(data) });
    send('held', '"held"');
    await flush();
    for (let i = 0; i < 254; i++) send(`j${i}`, 'not json');
    expect(call.paused).toBe(false);
    send('j254', 'not json'); // the 256th answer waiting
    expect(call.paused).toBe(true);
    expect(writer.written).toEqual([]);
    release(undefined);
    for (let i = 0; i < 10 && writer.written.length < 256; i++) await flush();
    expect(writer.written).toHaveLength(256);
    expect(call.paused).toBe(false);
    expect((writer.written[0]!.message as { ack: unknown }).ack).toEqual({ id: 'held' });
    expect((writer.written[255]!.message as { ack: { id: string; errorCode: string } }).ack).toMatchObject({ id: 'j254', errorCode: 'BAD_REQUEST' });
  });

  it('pauses while the input queue is full and resumes when it has room', async () => {
    const input = new SubscriptionInput({
      scope: '',
      keyPrefix: 'k',
      dedup: new InMemoryInputDedup(60_000, 100, 100),
      maxQueue: 2,
      maxMessageBytes: 1000,
      normalize: toStreamException,
    });
    const call = new FakeCall();
    const writer = new FakeWriter();
    const reader = new GrpcCallInput(call as unknown as GrpcDuplexCall, writer as unknown as GrpcWriter, {
      mode: 'generic',
      maxDepth: 32,
      logger: new Logger('test'),
    });
    reader.attach({ stream: 's', input, maxMessageBytes: 1000 });
    call.emit('data', { kind: 'input', id: 'a', data: Buffer.from('1') });
    call.emit('data', { kind: 'input', id: 'b', data: Buffer.from('2') });
    expect(call.paused).toBe(true); // nobody reads the input yet: the queue (2) is full
    input.observable(undefined, false).subscribe();
    for (let i = 0; i < 10 && writer.written.length < 2; i++) await flush();
    expect(call.paused).toBe(false);
    expect(writer.written.map((f) => (f.message as { ack: { id: string } }).ack.id)).toEqual(['a', 'b']);
  });
});
