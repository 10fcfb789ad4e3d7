import type { StreamException } from '../../errors/stream-exception.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';

/** SSE frames of events already framed: a broadcast event is framed once for every subscriber. */
const frames = new WeakMap<StreamEvent, Buffer>();

/**
 * `id: <id>\ndata: <json>\n\n` (no `id:` line when the event has no id); a reset notice
 * also has `event: reset`.
 */
export function sseEventFrame(event: StreamEvent): Buffer {
  let frame = frames.get(event);
  if (!frame) {
    const kind = event.kind === 'reset' ? 'event: reset\n' : '';
    const id = event.id === undefined ? '' : `id: ${event.id}\n`;
    const text = `${kind}${id}data: ${event.json}\n\n`;
    frame = Buffer.from(text, 'utf8');
    frames.set(event, frame);
  }
  return frame;
}

/** Event frames already wrapped as HTTP/1.1 chunks. */
const chunks = new WeakMap<StreamEvent, Buffer>();

/**
 * {@link sseEventFrame} as one HTTP/1.1 chunk (`<hex length>\r\n<frame>\r\n`), built once per
 * event: what a chunked response's socket receives for it, whatever the number of subscribers.
 */
export function sseChunkedEventFrame(event: StreamEvent): Buffer {
  let chunk = chunks.get(event);
  if (!chunk) {
    const frame = sseEventFrame(event);
    const head = Buffer.from(`${frame.length.toString(16)}\r\n`, 'latin1');
    chunk = Buffer.allocUnsafe(head.length + frame.length + 2);
    head.copy(chunk, 0);
    frame.copy(chunk, head.length);
    chunk.write('\r\n', head.length + frame.length, 'latin1');
    chunks.set(event, chunk);
  }
  return chunk;
}

/** The first bytes of every stream: the reconnection delay hint. */
export function sseRetryFrame(retryMs: number): string {
  return `retry: ${retryMs}\n\n`;
}

/** A comment line: ignored by clients, keeps proxies from timing out. */
export const SSE_HEARTBEAT_FRAME = ':\n\n';

/** Sent when the stream completes. */
export const SSE_COMPLETE_FRAME = 'event: complete\ndata: {}\n\n';

/** Sent when the stream fails after its first event. */
export function sseErrorFrame(error: StreamException): string {
  return `event: error\ndata: ${JSON.stringify(error.toJSON())}\n\n`;
}
