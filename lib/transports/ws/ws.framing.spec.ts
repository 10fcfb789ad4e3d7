import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import { StreamEvent } from '../../interfaces/stream-event.interface.js';
import {
  WS_PONG_FRAME,
  isNextTail,
  wsCompleteFrame,
  wsErrorFrame,
  wsFrameHeader,
  wsNextHead,
  wsNextPrefix,
  wsNextTail,
  wsResetFrame,
  wsTextFrame,
} from './ws.framing.js';

/** `ws`' own frame parser, as a client uses it: the frames must be what it accepts. */
const { Receiver } = createRequire(import.meta.url)('ws') as {
  Receiver: new (options: { isServer: boolean }) => NodeJS.WritableStream & { on(e: 'message', fn: (data: Buffer, binary: boolean) => void): void };
};
function decode(...bytes: Buffer[]): { text: string; binary: boolean }[] {
  const out: { text: string; binary: boolean }[] = [];
  const receiver = new Receiver({ isServer: false });
  receiver.on('message', (data, binary) => out.push({ text: data.toString('utf8'), binary }));
  receiver.on('error' as never, (e: Error) => {
    throw e;
  });
  for (const b of bytes) receiver.write(b);
  return out;
}

describe('WebSocket framing', () => {
  it.each([0, 125, 126, 65535, 65536, 200_000])('a text frame of %i bytes has the length form RFC 6455 asks for', (length) => {
    const payload = Buffer.alloc(length, 'a');
    const header = wsFrameHeader(1, length);
    expect(header.length).toBe(length < 126 ? 2 : length < 65536 ? 4 : 10);
    expect(header[0]).toBe(0x81); // FIN, text, no RSV bits (uncompressed)
    expect(decode(wsTextFrame(payload))).toEqual([{ text: payload.toString(), binary: false }]);
  });

  it('a next message is a per-subscription prefix plus a tail shared by every subscriber', () => {
    const event = new StreamEvent({ n: 'é' }, 5);
    const tail = wsNextTail(event);
    expect(wsNextTail(event)).toBe(tail); // built once per event
    expect(isNextTail(tail)).toBe(true);
    for (const id of ['a', 'sub "quoted"']) {
      const head = wsNextHead(id);
      const [message] = decode(wsNextPrefix(head, tail.length), tail);
      expect(JSON.parse(message!.text)).toEqual({ type: 'next', id, eventId: '5', data: { n: 'é' } });
    }
    const noId = wsNextTail(new StreamEvent([1]));
    expect(JSON.parse(decode(wsNextPrefix(wsNextHead('x'), noId.length), noId)[0]!.text)).toEqual({ type: 'next', id: 'x', data: [1] });
  });

  it('a large tail takes the 64-bit length form and still decodes', () => {
    const event = new StreamEvent({ pad: 'x'.repeat(70_000) }, 1);
    const tail = wsNextTail(event);
    const [message] = decode(wsNextPrefix(wsNextHead('big'), tail.length), tail);
    expect((JSON.parse(message!.text) as { data: { pad: string } }).data.pad).toHaveLength(70_000);
  });

  it('reset, complete, error and pong messages', () => {
    const reset = wsResetFrame('s', new StreamEvent({ reason: 'too-old' }, '9', { kind: 'reset' }));
    expect(isNextTail(reset)).toBe(false);
    expect(JSON.parse(decode(reset)[0]!.text)).toEqual({ type: 'reset', id: 's', eventId: '9', data: { reason: 'too-old' } });
    expect(JSON.parse(wsCompleteFrame('s'))).toEqual({ type: 'complete', id: 's' });
    const error = new StreamException(StreamErrorCode.NOT_FOUND, 'nope');
    expect(JSON.parse(wsErrorFrame('s', error))).toEqual({ type: 'error', id: 's', error: { code: 'NOT_FOUND', message: 'nope' } });
    expect(JSON.parse(wsErrorFrame(undefined, error))).toEqual({ type: 'error', error: { code: 'NOT_FOUND', message: 'nope' } });
    expect(JSON.parse(WS_PONG_FRAME)).toEqual({ type: 'pong' });
  });
});
