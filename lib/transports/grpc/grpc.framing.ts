import type { StreamEvent } from '../../interfaces/stream-event.interface.js';

/** One response message and the bytes it accounts for. */
export interface GrpcFrame {
  /** `undefined`: nothing to send. */
  message: unknown;
  size: number;
}

/**
 * Memory a queued gRPC message takes beyond its payload (the message object and grpc-js'
 * own wrappers), counted so that `maxQueueBytes` bounds real memory for small events too.
 */
export const GRPC_FRAME_OVERHEAD_BYTES = 512;

/** The UTF-8 JSON bytes of an event's data, made once per event. */
const bytes = new WeakMap<StreamEvent, Buffer>();

/** `longlink.v1.Event`: `{ id, data }` with data the event's JSON bytes (shared by all subscribers). */
export function grpcGenericFrame(event: StreamEvent): GrpcFrame {
  let data = bytes.get(event);
  if (!data) {
    data = Buffer.from(event.json, 'utf8');
    bytes.set(event, data);
  }
  const message = event.kind === 'reset' ? { id: event.id ?? '', data, reset: true } : { id: event.id ?? '', data };
  return { message, size: data.length + (event.id?.length ?? 0) + GRPC_FRAME_OVERHEAD_BYTES };
}

/** A typed binding's response message: the event's data itself, encoded by the method's proto. */
export function grpcTypedFrame(event: StreamEvent): GrpcFrame {
  // A user's reply message has no place for a reset notice: it is not sent (PROTOCOL.md §5.2).
  if (event.kind === 'reset') return { message: undefined, size: 0 };
  const { data } = event;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new TypeError('A stream served as a typed gRPC method must emit objects (response messages)');
  }
  return { message: data, size: Buffer.byteLength(event.json) + GRPC_FRAME_OVERHEAD_BYTES };
}
