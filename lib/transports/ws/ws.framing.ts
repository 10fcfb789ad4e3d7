import type { StreamException } from '../../errors/stream-exception.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';

const TEXT = 0x1;
const CONTINUATION = 0x0;

/** One server-to-client frame (RFC 6455 §5.2: FIN bit, opcode, unmasked payload length). */
export function wsFrame(opcode: number, fin: boolean, payload: Buffer): Buffer {
  const first = (fin ? 0x80 : 0) | opcode;
  let header: Buffer;
  if (payload.length < 126) {
    header = Buffer.from([first, payload.length]);
  } else if (payload.length < 65536) {
    header = Buffer.allocUnsafe(4);
    header[0] = first;
    header[1] = 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.allocUnsafe(10);
    header[0] = first;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** Whether a frame is the shared last fragment of a `next` message (continuation, FIN). */
export function isNextTail(frame: Buffer): boolean {
  return frame[0] === (0x80 | CONTINUATION);
}

/**
 * A `next` message is sent as two fragments of one text message (clients reassemble them):
 * this head, `{"type":"next","id":<id>`, framed once per subscription...
 */
export function wsNextHead(subscriptionId: string): Buffer {
  return wsFrame(TEXT, false, Buffer.from(`{"type":"next","id":${JSON.stringify(subscriptionId)}`, 'utf8'));
}

/** ...and this tail, `,"eventId":...,"data":<json>}`, framed once per event for every subscriber on every connection. */
const tails = new WeakMap<StreamEvent, Buffer>();

export function wsNextTail(event: StreamEvent): Buffer {
  let tail = tails.get(event);
  if (!tail) {
    const text =
      event.id === undefined ? `,"data":${event.json}}` : `,"eventId":${JSON.stringify(event.id)},"data":${event.json}}`;
    tail = wsFrame(CONTINUATION, true, Buffer.from(text, 'utf8'));
    tails.set(event, tail);
  }
  return tail;
}

/** A reset notice for one subscription, one whole frame: `{"type":"reset","id":...,"eventId"?,"data":{"reason"}}`. */
export function wsResetFrame(subscriptionId: string, event: StreamEvent): Buffer {
  const eventId = event.id === undefined ? '' : `,"eventId":${JSON.stringify(event.id)}`;
  const text = `{"type":"reset","id":${JSON.stringify(subscriptionId)}${eventId},"data":${event.json}}`;
  return wsFrame(TEXT, true, Buffer.from(text, 'utf8'));
}

export function wsCompleteFrame(subscriptionId: string): string {
  return `{"type":"complete","id":${JSON.stringify(subscriptionId)}}`;
}

/** An `error` message; without `id` for errors that concern no (valid) subscription. */
export function wsErrorFrame(subscriptionId: string | undefined, error: StreamException): string {
  return JSON.stringify(
    subscriptionId === undefined
      ? { type: 'error', error: error.toJSON() }
      : { type: 'error', id: subscriptionId, error: error.toJSON() },
  );
}

export const WS_PONG_FRAME = '{"type":"pong"}';
