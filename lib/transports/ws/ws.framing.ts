import type { StreamException } from '../../errors/stream-exception.js';
import { FrameKey, type StreamEvent } from '../../interfaces/stream-event.interface.js';

const TEXT = 0x1;

/** The header of one unmasked server-to-client frame (RFC 6455 §5.2) with FIN set. */
export function wsFrameHeader(opcode: number, payloadLength: number): Buffer {
  const first = 0x80 | opcode;
  if (payloadLength < 126) return Buffer.from([first, payloadLength]);
  if (payloadLength < 65536) {
    const header = Buffer.allocUnsafe(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(payloadLength, 2);
    return header;
  }
  const header = Buffer.allocUnsafe(10);
  header[0] = first;
  header[1] = 127;
  header.writeBigUInt64BE(BigInt(payloadLength), 2);
  return header;
}

/** The payload of a whole frame built by {@link wsFrameHeader} (its header skipped). */
export function wsFramePayload(frame: Buffer): Buffer {
  const length = frame[1]! & 0x7f;
  return frame.subarray(length === 126 ? 4 : length === 127 ? 10 : 2);
}

/** One whole text frame. */
export function wsTextFrame(payload: Buffer): Buffer {
  return Buffer.concat([wsFrameHeader(TEXT, payload.length), payload]);
}

/** Whether a frame is an event's shared `next` tail (unframed JSON text) rather than a whole frame. */
export function isNextTail(frame: Buffer): boolean {
  return frame[0] === 0x2c; // ','
}

/**
 * A `next` message is one text frame made of two parts: the subscription's head,
 * `{"type":"next","id":<id>` (built once per subscription)...
 */
export function wsNextHead(subscriptionId: string): Buffer {
  return Buffer.from(`{"type":"next","id":${JSON.stringify(subscriptionId)}`, 'utf8');
}

/**
 * ...and the event's tail, `,"eventId":...,"data":<json>}`, built once per event for every
 * subscriber on every connection. The frame header depends only on the two lengths.
 */
export function wsNextTail(event: StreamEvent): Buffer {
  return event.cached(WS_TAIL, buildTail);
}

const WS_TAIL = new FrameKey<Buffer>('ws-tail');

function buildTail(event: StreamEvent): Buffer {
  const text = event.id === undefined ? `,"data":${event.json}}` : `,"eventId":${JSON.stringify(event.id)},"data":${event.json}}`;
  return Buffer.from(text, 'utf8');
}

/** The frame header and head of a `next` message whose tail is `tailLength` bytes long. */
export function wsNextPrefix(head: Buffer, tailLength: number): Buffer {
  return Buffer.concat([wsFrameHeader(TEXT, head.length + tailLength), head]);
}

/** A reset notice for one subscription, one whole frame: `{"type":"reset","id":...,"eventId"?,"data":{"reason"}}`. */
export function wsResetFrame(subscriptionId: string, event: StreamEvent): Buffer {
  const eventId = event.id === undefined ? '' : `,"eventId":${JSON.stringify(event.id)}`;
  const text = `{"type":"reset","id":${JSON.stringify(subscriptionId)}${eventId},"data":${event.json}}`;
  return wsTextFrame(Buffer.from(text, 'utf8'));
}

/** `{"type":"subscribed","id":...}`: the server holds the subscription (sent when the subscribe asked with `ack`). */
export function wsSubscribedFrame(subscriptionId: string): string {
  return `{"type":"subscribed","id":${JSON.stringify(subscriptionId)}}`;
}

export function wsCompleteFrame(subscriptionId: string): string {
  return `{"type":"complete","id":${JSON.stringify(subscriptionId)}}`;
}

/** An `error` message; without `id` for errors that concern no (valid) subscription. */
export function wsErrorFrame(subscriptionId: string | undefined, error: StreamException): string {
  return JSON.stringify(
    subscriptionId === undefined ? { type: 'error', error: error.toJSON() } : { type: 'error', id: subscriptionId, error: error.toJSON() },
  );
}

export const WS_PONG_FRAME = '{"type":"pong"}';
export const WS_INIT_ACK_FRAME = '{"type":"init_ack"}';

/** `input_ack` (PROTOCOL.md §7.2). */
export function wsInputAckFrame(subscriptionId: string, messageId: string, duplicate: boolean): string {
  const dup = duplicate ? ',"duplicate":true' : '';
  return `{"type":"input_ack","id":${JSON.stringify(subscriptionId)},"messageId":${JSON.stringify(messageId)}${dup}}`;
}

/** `input_error` (PROTOCOL.md §7.2): one message refused, the subscription goes on. */
export function wsInputErrorFrame(subscriptionId: string, messageId: string, error: StreamException): string {
  return JSON.stringify({ type: 'input_error', id: subscriptionId, messageId, error: error.toJSON() });
}
