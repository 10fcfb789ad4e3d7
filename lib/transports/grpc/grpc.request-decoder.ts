import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import { assertSafeKey, tooDeepError } from '../../core/params.js';
import { DEFAULT_MAX_PARAMS_DEPTH } from '../../longlink.defaults.js';

/**
 * Where a request that could not be decoded keeps its refusal. grpc-js answers a throwing
 * deserializer with `INTERNAL` before any handler runs (and clients retry `INTERNAL`): the
 * deserializers here never throw, they return this marker and the handler refuses the call
 * with `INVALID_ARGUMENT`.
 */
const UNDECODABLE = Symbol('longlink:grpc-undecodable');
type Undecodable = { [UNDECODABLE]: StreamException };

/** The refusal of a request its deserializer could not decode, if it is one. */
export function undecodableRequest(request: unknown): StreamException | undefined {
  return request !== null && typeof request === 'object' ? (request as Partial<Undecodable>)[UNDECODABLE] : undefined;
}

function malformed(): StreamException {
  return new StreamException(StreamErrorCode.BAD_REQUEST, 'Malformed request message');
}

/**
 * `deserialize` that never throws: what it cannot decode (malformed bytes, protobuf.js'
 * nesting limit) becomes a marker refused with `INVALID_ARGUMENT` by the handler.
 */
export function nonThrowingDeserializer(deserialize: (bytes: Buffer) => object): (bytes: Buffer) => object {
  return (bytes) => {
    try {
      return deserialize(bytes);
    } catch (error) {
      const refusal = error instanceof StreamException ? error : malformed();
      return { [UNDECODABLE]: refusal } satisfies Undecodable;
    }
  };
}

/** `longlink.v1.SubscribeRequest` decoded, its params already plain JSON. */
export interface DecodedSubscribeRequest {
  stream: string;
  params: Record<string, unknown>;
  lastEventId: string;
  /** The channel key; empty for none (PROTOCOL.md §7.3). */
  channel: string;
}

/** `longlink.v1.ChannelRequest` decoded: which of its kinds is set (the last one on the wire). */
export type DecodedChannelRequest =
  { kind: 'subscribe'; subscribe: DecodedSubscribeRequest } | { kind: 'input'; id: string; data: Buffer } | { kind: 'none' };

/** A cursor over protobuf wire bytes (https://protobuf.dev/programming-guides/encoding/). */
class WireReader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed();
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw malformed();
  }

  /** The end offset of a length-delimited field starting here (its bytes are `pos`..end). */
  length(): number {
    const length = this.varint();
    const end = this.pos + length;
    if (end > this.end) throw malformed();
    return end;
  }

  string(): string {
    const end = this.length();
    const text = this.buf.toString('utf8', this.pos, end);
    this.pos = end;
    return text;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw malformed();
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.pos = this.length();
    else if (wireType === 5) this.pos += 4;
    else throw malformed(); // groups (3, 4) and unknown wire types
    if (this.pos > this.end) throw malformed();
  }

  /** The next tag as [field number, wire type]. */
  tag(): [number, number] {
    const tag = this.varint();
    const field = Math.floor(tag / 8);
    if (field === 0) throw malformed();
    return [field, tag % 8];
  }

  /** A reader over the length-delimited field starting here; this one moves past it. */
  sub(): WireReader {
    const end = this.length();
    const reader = new WireReader(this.buf, this.pos, end);
    this.pos = end;
    return reader;
  }
}

/**
 * Decodes `longlink.v1.SubscribeRequest` straight from its bytes, turning the
 * `google.protobuf.Struct` params into plain JSON on the way. Hand-written so that the
 * params' depth is checked as they are read (`maxParamsDepth`, as on SSE and WebSocket; protobuf.js would stop at 50 levels with an error grpc-js reports as `INTERNAL`)
 * and forbidden keys are refused. Throws `BAD_REQUEST` on malformed or too deep input.
 */
export function decodeSubscribeRequest(bytes: Buffer, maxDepth = DEFAULT_MAX_PARAMS_DEPTH): DecodedSubscribeRequest {
  return readSubscribeRequest(new WireReader(bytes, 0, bytes.length), maxDepth);
}

function readSubscribeRequest(r: WireReader, maxDepth: number): DecodedSubscribeRequest {
  const request: DecodedSubscribeRequest = { stream: '', params: {}, lastEventId: '', channel: '' };
  while (!r.done) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === 2) request.stream = r.string();
    else if (field === 2 && wireType === 2) request.params = decodeStruct(r.sub(), 1, maxDepth);
    else if (field === 3 && wireType === 2) request.lastEventId = r.string();
    else if (field === 4 && wireType === 2) request.channel = r.string();
    else r.skip(wireType);
  }
  return request;
}

/**
 * Decodes `longlink.v1.ChannelRequest` (PROTOCOL.md §7.3): its `subscribe` as
 * {@link decodeSubscribeRequest} does (params' depth checked), its `input` as the message id
 * and the data's bytes (a view into `bytes`, parsed by the caller). Throws `BAD_REQUEST` on
 * malformed or too deep input.
 */
export function decodeChannelRequest(bytes: Buffer, maxDepth = DEFAULT_MAX_PARAMS_DEPTH): DecodedChannelRequest {
  const r = new WireReader(bytes, 0, bytes.length);
  let request: DecodedChannelRequest = { kind: 'none' };
  while (!r.done) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === 2) request = { kind: 'subscribe', subscribe: readSubscribeRequest(r.sub(), maxDepth) };
    else if (field === 2 && wireType === 2) request = readInputMessage(r.sub());
    else r.skip(wireType);
  }
  return request;
}

function readInputMessage(r: WireReader): DecodedChannelRequest {
  let id = '';
  let data: Buffer = EMPTY;
  while (!r.done) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === 2) id = r.string();
    else if (field === 2 && wireType === 2) {
      const end = r.length();
      data = r.buf.subarray(r.pos, end);
      r.pos = end;
    } else r.skip(wireType);
  }
  return { kind: 'input', id, data };
}

const EMPTY = Buffer.alloc(0);

function decodeStruct(r: WireReader, depth: number, maxDepth: number): Record<string, unknown> {
  if (depth > maxDepth) throw tooDeepError('params', maxDepth);
  const out: Record<string, unknown> = {};
  while (!r.done) {
    const [field, wireType] = r.tag();
    if (field !== 1 || wireType !== 2) {
      r.skip(wireType);
      continue;
    }
    // One map entry: key = 1, value = 2 (missing parts are their defaults).
    const entry = r.sub();
    let key = '';
    let value: unknown = null;
    while (!entry.done) {
      const [f, w] = entry.tag();
      if (f === 1 && w === 2) key = entry.string();
      else if (f === 2 && w === 2) value = decodeValue(entry.sub(), depth, maxDepth);
      else entry.skip(w);
    }
    assertSafeKey(key);
    out[key] = value;
  }
  return out;
}

function decodeValue(r: WireReader, depth: number, maxDepth: number): unknown {
  let value: unknown = null; // a Value with no kind set
  while (!r.done) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === 0) {
      r.varint(); // null_value: its only value is NULL_VALUE (0)
      value = null;
    } else if (field === 2 && wireType === 1) value = r.double();
    else if (field === 3 && wireType === 2) value = r.string();
    else if (field === 4 && wireType === 0) value = r.varint() !== 0;
    else if (field === 5 && wireType === 2) value = decodeStruct(r.sub(), depth + 1, maxDepth);
    else if (field === 6 && wireType === 2) value = decodeList(r.sub(), depth + 1, maxDepth);
    else r.skip(wireType);
  }
  return value;
}

function decodeList(r: WireReader, depth: number, maxDepth: number): unknown[] {
  if (depth > maxDepth) throw tooDeepError('params', maxDepth);
  const out: unknown[] = [];
  while (!r.done) {
    const [field, wireType] = r.tag();
    if (field === 1 && wireType === 2) out.push(decodeValue(r.sub(), depth, maxDepth));
    else r.skip(wireType);
  }
  return out;
}
