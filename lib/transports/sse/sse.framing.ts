import type { StreamException } from '../../errors/stream-exception.js';
import { FrameKey, type StreamEvent } from '../../interfaces/stream-event.interface.js';

const SSE_FRAME = new FrameKey<Buffer>('sse');
const SSE_CHUNK = new FrameKey<Buffer>('sse-chunk');

function eventText(event: StreamEvent): string {
  const kind = event.kind === 'reset' ? 'event: reset\n' : '';
  const id = event.id === undefined ? '' : `id: ${event.id}\n`;
  return `${kind}${id}data: ${event.json}\n\n`;
}

/**
 * `id: <id>\ndata: <json>\n\n` (no `id:` line when the event has no id); a reset notice
 * also has `event: reset`. Built once per event, shared by every subscriber.
 */
export function sseEventFrame(event: StreamEvent): Buffer {
  return event.cached(SSE_FRAME, buildFrame);
}

function buildFrame(event: StreamEvent): Buffer {
  return Buffer.from(eventText(event), 'utf8');
}

/**
 * {@link sseEventFrame} as one HTTP/1.1 chunk (`<hex length>\r\n<frame>\r\n`), built once per
 * event: what a chunked response's socket receives for it, whatever the number of subscribers.
 */
export function sseChunkedEventFrame(event: StreamEvent): Buffer {
  return event.cached(SSE_CHUNK, buildChunk);
}

function buildChunk(event: StreamEvent): Buffer {
  const text = eventText(event);
  // One string, one conversion (small buffers come from Node's pool).
  return Buffer.from(`${Buffer.byteLength(text, 'utf8').toString(16)}\r\n${text}\r\n`, 'utf8');
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
