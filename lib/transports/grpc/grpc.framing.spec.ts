import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it, vi } from 'vitest';
import { StreamEvent } from '../../interfaces/stream-event.interface.js';
import { GRPC_FRAME_OVERHEAD_BYTES, cachingSerializer, grpcGenericFrame, grpcTypedFrame, grpcWireMessage } from './grpc.framing.js';

const proto = fileURLToPath(new URL('../../../proto/longlink/v1/longlink.proto', import.meta.url));
const definition = protoLoader.loadSync(proto, { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true });
const subscribe = (definition['longlink.v1.Streams'] as unknown as Record<string, protoLoader.MethodDefinition<object, object>>)['Subscribe']!;

describe('gRPC framing', () => {
  it('the generic frame is longlink.v1.Event {id, data: JSON bytes}, made once per event', () => {
    const event = new StreamEvent({ n: 1 }, 4);
    const frame = grpcGenericFrame(event);
    expect(grpcGenericFrame(event)).toBe(frame);
    expect(frame.size).toBe(Buffer.byteLength('{"n":1}') + 1 + GRPC_FRAME_OVERHEAD_BYTES);
    const decoded = subscribe.responseDeserialize(subscribe.responseSerialize(frame.message as object)) as {
      id: string;
      data: Buffer;
      reset?: boolean;
    };
    expect(decoded.id).toBe('4');
    expect(JSON.parse(decoded.data.toString())).toEqual({ n: 1 });
    expect(decoded.reset).toBeUndefined();
  });

  it('a reset notice sets reset: true; an event without id has an empty id', () => {
    const reset = grpcGenericFrame(new StreamEvent({ reason: 'too-old' }, '9', { kind: 'reset' }));
    expect(subscribe.responseDeserialize(subscribe.responseSerialize(reset.message as object))).toMatchObject({ id: '9', reset: true });
    expect((grpcGenericFrame(new StreamEvent(1)).message as { id: string }).id).toBe('');
  });

  it('the wire message is flag 0, a 32-bit big-endian length and the protobuf bytes, built once per frame', () => {
    const frame = grpcGenericFrame(new StreamEvent({ n: 2 }, 1));
    let serialisations = 0;
    const serialize = (m: object) => (serialisations++, subscribe.responseSerialize(m));
    const wire = grpcWireMessage(frame, serialize);
    expect(grpcWireMessage(frame, serialize)).toBe(wire);
    expect(serialisations).toBe(1);
    const bytes = subscribe.responseSerialize(frame.message as object);
    expect(wire[0]).toBe(0);
    expect(wire.readUInt32BE(1)).toBe(bytes.length);
    expect(wire.subarray(5).equals(bytes)).toBe(true);
  });

  it('cachingSerializer encodes one message object once', () => {
    let calls = 0;
    const serialize = cachingSerializer((m) => (calls++, subscribe.responseSerialize(m)));
    const message = { id: 'a', data: Buffer.from('1') };
    expect(serialize(message)).toBe(serialize(message));
    expect(calls).toBe(1);
    serialize({ id: 'a', data: Buffer.from('1') });
    expect(calls).toBe(2);
  });

  it('a typed frame is the value itself; a reset is not sent; non-objects are refused', () => {
    const event = new StreamEvent({ n: 3 }, 3);
    const frame = grpcTypedFrame(event);
    expect(frame.message).toBe(event.data);
    expect(grpcTypedFrame(event)).toBe(frame);
    expect(grpcTypedFrame(new StreamEvent({ reason: 'x' }, '1', { kind: 'reset' })).message).toBeUndefined();
    for (const bad of [1, 'x', null, [1]]) expect(() => grpcTypedFrame(new StreamEvent(bad))).toThrow(TypeError);
  });

  it("the direct path encodes each frame once without the caching serializer's WeakMap (kept for call.write)", () => {
    let encodes = 0;
    const serialize = cachingSerializer((message) => {
      encodes++;
      return subscribe.responseSerialize(message);
    });
    const set = vi.spyOn(WeakMap.prototype, 'set');
    const frame = grpcGenericFrame(new StreamEvent({ n: 5 }, 5));
    // Entries keyed by this message (the test runner keeps WeakMaps of its own).
    const cached = (): number => set.mock.calls.filter(([key]) => key === frame.message).length;
    try {
      const wire = grpcWireMessage(frame, serialize);
      expect(grpcWireMessage(frame, serialize)).toBe(wire);
      expect(wire.subarray(5)).toEqual(subscribe.responseSerialize(frame.message as object));
      expect(encodes).toBe(1);
      expect(cached()).toBe(0);
      // grpc-js' own write path: one encoding per message object however many calls.
      serialize(frame.message as object);
      serialize(frame.message as object);
      expect(encodes).toBe(2);
      expect(cached()).toBe(1);
    } finally {
      set.mockRestore();
    }
  });
});
