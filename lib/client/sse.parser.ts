import { violation } from './stream-error.js';

/** One parsed SSE event (PROTOCOL.md §3.3). */
export interface SseMessage {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * An incremental parser of an SSE body: text chunks in, events and `retry:` values out. Each
 * chunk is scanned once; a line still open at a chunk's end is kept as pieces and joined when it
 * ends, so an endless line costs linear time. A line or an event's data longer than `max`
 * characters throws a protocol violation (a `StreamError`), as does whatever `onEvent` throws.
 */
export function sseParser(max: number, onEvent: (m: SseMessage) => void, onRetry: (ms: number) => void): (chunk: string) => void {
  let pieces: string[] = [];
  let pending = 0;
  /** The previous chunk ended with CR: a LF that starts this one belongs to it. */
  let afterCr = false;
  let message: SseMessage = { event: 'message', data: '', id: undefined };
  let hasData = false;

  const line = (text: string) => {
    if (text === '') {
      const done = message;
      message = { event: 'message', data: '', id: undefined };
      if (hasData) {
        hasData = false;
        onEvent(done);
      }
      return;
    }
    const colon = text.indexOf(':');
    if (colon === 0) return; // a comment: heartbeat
    const field = colon < 0 ? text : text.slice(0, colon);
    const value = colon < 0 ? '' : text.slice(colon + (text[colon + 1] === ' ' ? 2 : 1));
    if (field === 'data') {
      if (message.data.length + value.length > max) throw violation(`an SSE event larger than maxMessageBytes (${max})`);
      message.data += (hasData ? '\n' : '') + value;
      hasData = true;
    } else if (field === 'event') message.event = value;
    else if (field === 'id') message.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) onRetry(Number(value));
  };

  return (chunk) => {
    let start = afterCr && chunk[0] === '\n' ? 1 : 0;
    afterCr = false;
    const eol = /\r\n|\r|\n/g;
    eol.lastIndex = start;
    for (let m = eol.exec(chunk); m; m = eol.exec(chunk)) {
      let text = chunk.slice(start, m.index);
      if (pieces.length) {
        pieces.push(text);
        text = pieces.join('');
        pieces = [];
        pending = 0;
      }
      start = m.index + m[0].length;
      afterCr = m[0] === '\r' && start === chunk.length;
      if (text.length > max) throw violation(`an SSE line longer than maxMessageBytes (${max})`);
      line(text);
    }
    if (start < chunk.length) {
      pending += chunk.length - start;
      if (pending > max) throw violation(`an SSE line longer than maxMessageBytes (${max})`);
      pieces.push(chunk.slice(start));
    }
  };
}
