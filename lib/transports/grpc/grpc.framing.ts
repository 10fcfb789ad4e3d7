import { FrameKey, type StreamEvent } from '../../interfaces/stream-event.interface.js';
import { StreamException } from '../../errors/stream-exception.js';
import { MAX_ERROR_MESSAGE_BYTES, boundedText } from '../../errors/error-bounds.js';

/** One response message and the bytes it accounts for. */
export interface GrpcFrame {
  /** `undefined`: nothing to send. */
  message: unknown;
  size: number;
  /** The message on the wire (flag, length, bytes), once a writer has built it: {@link grpcWireMessage}. */
  wire?: Buffer;
}

/**
 * Memory a queued gRPC message takes beyond its payload (the message object and grpc-js'
 * own wrappers), counted so that `maxQueueBytes` bounds real memory for small events too.
 */
export const GRPC_FRAME_OVERHEAD_BYTES = 512;

/**
 * `longlink.v1.Event`: `{ id, data }` with data the event's JSON bytes. Made once per event;
 * with {@link cachingSerializer} on the method, its protobuf bytes are made once too.
 */
export function grpcGenericFrame(event: StreamEvent): GrpcFrame {
  return event.cached(GRPC_GENERIC, buildGeneric);
}

const GRPC_GENERIC = new FrameKey<GrpcFrame>('grpc-generic');
const GRPC_TYPED = new FrameKey<GrpcFrame>('grpc-typed');
const GRPC_CHANNEL = new FrameKey<GrpcFrame>('grpc-channel');

/**
 * `longlink.v1.ChannelResponse` carrying the event (PROTOCOL.md §7.3): the generic `Event`
 * wrapped. Made once per event, so with {@link cachingSerializer} on `Channel` its bytes are
 * made once for every `Channel` call sending it.
 */
export function grpcChannelFrame(event: StreamEvent): GrpcFrame {
  return event.cached(GRPC_CHANNEL, buildChannel);
}

function buildChannel(event: StreamEvent): GrpcFrame {
  const inner = grpcGenericFrame(event);
  return { message: { event: inner.message }, size: inner.size };
}

/** `ChannelResponse.ack` (PROTOCOL.md §7.3): an acceptance, or a refusal's code, message and JSON details. */
export function grpcAckFrame(id: string, answer: { duplicate: boolean } | StreamException): GrpcFrame {
  let ack: Record<string, unknown>;
  if (answer instanceof StreamException) {
    const { code, message, details } = answer.toJSON();
    ack = { id, errorCode: code, errorMessage: boundedText(message, MAX_ERROR_MESSAGE_BYTES) };
    if (details !== undefined) ack['errorDetails'] = Buffer.from(JSON.stringify(details), 'utf8');
  } else {
    ack = answer.duplicate ? { id, duplicate: true } : { id };
  }
  return { message: { ack }, size: id.length + GRPC_FRAME_OVERHEAD_BYTES };
}

function buildGeneric(event: StreamEvent): GrpcFrame {
  const data = Buffer.from(event.json, 'utf8');
  const id = event.id ?? '';
  const message = event.kind === 'reset' ? { id, data, reset: true } : { id, data };
  return { message, size: data.length + id.length + GRPC_FRAME_OVERHEAD_BYTES };
}

function buildTyped(event: StreamEvent): GrpcFrame {
  return { message: event.data, size: Buffer.byteLength(event.json) + GRPC_FRAME_OVERHEAD_BYTES };
}

/** Wraps a method's response serializer so that one message object is encoded once, however many calls send it. */
export function cachingSerializer(serialize: (message: object) => Buffer): (message: object) => Buffer {
  const encoded = new WeakMap<object, Buffer>();
  return (message) => {
    let bytes = encoded.get(message);
    if (!bytes) {
      bytes = serialize(message);
      encoded.set(message, bytes);
    }
    return bytes;
  };
}

/**
 * A frame's message as gRPC puts it on an HTTP/2 stream: the uncompressed flag, the 32-bit
 * length and the bytes `serialize` makes. Made once per frame, shared by every call sending it.
 */
export function grpcWireMessage(frame: GrpcFrame, serialize: (message: object) => Buffer): Buffer {
  let wire = frame.wire;
  if (!wire) {
    const bytes = serialize(frame.message as object);
    wire = Buffer.allocUnsafe(bytes.length + 5);
    wire[0] = 0;
    wire.writeUInt32BE(bytes.length, 1);
    bytes.copy(wire, 5);
    frame.wire = wire;
  }
  return wire;
}

/** A typed binding's response message: the event's data itself, encoded by the method's proto. Made once per event. */
export function grpcTypedFrame(event: StreamEvent): GrpcFrame {
  // A user's reply message has no place for a reset notice: it is not sent (PROTOCOL.md §5.2).
  if (event.kind === 'reset') return { message: undefined, size: 0 };
  const { data } = event;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new TypeError('A stream served as a typed gRPC method must emit objects (response messages)');
  }
  // Once per event, like the generic frame: every call then shares its wire bytes too.
  return event.cached(GRPC_TYPED, buildTyped);
}
