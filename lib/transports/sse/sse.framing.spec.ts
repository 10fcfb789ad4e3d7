import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import { StreamEvent } from '../../interfaces/stream-event.interface.js';
import { SSE_COMPLETE_FRAME, SSE_HEARTBEAT_FRAME, sseChunkedEventFrame, sseErrorFrame, sseEventFrame, sseRetryFrame } from './sse.framing.js';

/** What a spec-compliant EventSource parser makes of some stream text. */
function parse(text: string): EventSourceMessage[] {
  const out: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => out.push(e) });
  parser.feed(text);
  return out;
}

describe('SSE framing', () => {
  it('an event: id and JSON data, no id line without an id', () => {
    expect(sseEventFrame(new StreamEvent({ n: 1 }, 7)).toString()).toBe('id: 7\ndata: {"n":1}\n\n');
    expect(sseEventFrame(new StreamEvent('x')).toString()).toBe('data: "x"\n\n');
    expect(parse(sseEventFrame(new StreamEvent({ a: 'é\n' }, 'k')).toString())).toEqual([{ id: 'k', event: undefined, data: '{"a":"é\\n"}' }]);
  });

  it('a reset notice is a named event', () => {
    const reset = new StreamEvent({ reason: 'too-old' }, '9', { kind: 'reset' });
    expect(parse(sseEventFrame(reset).toString())).toEqual([{ id: '9', event: 'reset', data: '{"reason":"too-old"}' }]);
  });

  it('is built once per event and shared', () => {
    const event = new StreamEvent({ n: 1 }, 1);
    expect(sseEventFrame(event)).toBe(sseEventFrame(event));
    expect(sseChunkedEventFrame(event)).toBe(sseChunkedEventFrame(event));
  });

  it('the chunked form is one HTTP/1.1 chunk of the same bytes, its length counted in bytes (UTF-8)', () => {
    const event = new StreamEvent({ text: 'héllo 👋' }, 3);
    const chunk = sseChunkedEventFrame(event);
    const frame = sseEventFrame(event);
    const head = `${frame.length.toString(16)}\r\n`;
    expect(chunk.subarray(0, head.length).toString('latin1')).toBe(head);
    expect(chunk.subarray(head.length, head.length + frame.length).equals(frame)).toBe(true);
    expect(chunk.subarray(head.length + frame.length).toString('latin1')).toBe('\r\n');
    expect(chunk.length).toBe(head.length + frame.length + 2);
  });

  it('retry, heartbeat, complete and error frames', () => {
    expect(sseRetryFrame(2500)).toBe('retry: 2500\n\n');
    expect(parse(SSE_HEARTBEAT_FRAME)).toEqual([]);
    expect(parse(SSE_COMPLETE_FRAME)).toEqual([{ id: undefined, event: 'complete', data: '{}' }]);
    const error = new StreamException(StreamErrorCode.BAD_REQUEST, 'bad', { field: 'x' });
    const [parsed] = parse(sseErrorFrame(error));
    expect(parsed!.event).toBe('error');
    expect(JSON.parse(parsed!.data)).toEqual({ code: 'BAD_REQUEST', message: 'bad', details: { field: 'x' } });
  });
});
