import { describe, expect, it } from 'vitest';
import { sseParser, type SseMessage } from './sse.parser.js';

function parse(chunks: string[], max = 1000): { events: SseMessage[]; retries: number[] } {
  const events: SseMessage[] = [];
  const retries: number[] = [];
  const push = sseParser(
    max,
    (m) => events.push(m),
    (ms) => retries.push(ms),
  );
  for (const c of chunks) push(c);
  return { events, retries };
}

describe('sseParser', () => {
  it('events split anywhere, CR, LF and CRLF line ends (a CRLF split across chunks is one line end)', () => {
    const text = 'retry: 10\r\n\r\nid: a\rdata: 1\r\n\r\n:hb\n\nevent: reset\nid: b\ndata: {"x":\ndata: 2}\n\n';
    const expected = parse([text]);
    expect(expected.events).toEqual([
      { event: 'message', data: '1', id: 'a' },
      { event: 'reset', data: '{"x":\n2}', id: 'b' },
    ]);
    expect(expected.retries).toEqual([10]);
    for (let i = 1; i < text.length; i++) expect(parse([text.slice(0, i), text.slice(i)])).toEqual(expected);
    expect(parse(text.split(''))).toEqual(expected);
  });

  it('a line or an event past max throws a protocol violation', () => {
    expect(() => parse(['data: ', 'x'.repeat(600), 'x'.repeat(600)])).toThrow('Protocol violation: an SSE line longer than maxMessageBytes (1000)');
    expect(() => parse(['data: 1234567890\n'.repeat(100)])).toThrow('Protocol violation: an SSE event larger than maxMessageBytes (1000)');
  });

  it('an endless line costs linear time: 64 MiB in 16 KiB chunks well under a second per 16 MiB', () => {
    const push = sseParser(
      128 * 1024 * 1024,
      () => undefined,
      () => undefined,
    );
    const chunk = 'x'.repeat(16 * 1024);
    const started = performance.now();
    push('data: ');
    for (let i = 0; i < 4096; i++) push(chunk);
    push('\n\n');
    expect(performance.now() - started).toBeLessThan(4000);
  });
});
