import type { StreamEvent } from '../../interfaces/stream-event.interface.js';

/** One response message and the bytes it accounts for. */
export interface GrpcFrame {
  message: unknown;
  size: number;
}

/** The UTF-8 JSON bytes of an event's data, made once per event. */
const bytes = new WeakMap<StreamEvent, Buffer>();

/** `longlink.v1.Event`: `{ id, data }` with data the event's JSON bytes (shared by all subscribers). */
export function grpcGenericFrame(event: StreamEvent): GrpcFrame {
  let data = bytes.get(event);
  if (!data) {
    data = Buffer.from(event.json, 'utf8');
    bytes.set(event, data);
  }
  return { message: { id: event.id ?? '', data }, size: data.length + (event.id?.length ?? 0) };
}

/** A typed binding's response message: the event's data itself, encoded by the method's proto. */
export function grpcTypedFrame(event: StreamEvent): GrpcFrame {
  const { data } = event;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new TypeError('A stream served as a typed gRPC method must emit objects (response messages)');
  }
  return { message: data, size: Buffer.byteLength(event.json) };
}
