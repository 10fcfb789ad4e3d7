import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { toStruct } from '../../client/grpc.client-transport.js';
import { StreamException } from '../../errors/stream-exception.js';
import { decodeChannelRequest, decodeSubscribeRequest, nonThrowingDeserializer, undecodableRequest } from './grpc.request-decoder.js';

const PROTO = fileURLToPath(new URL('../../../proto/longlink/v1/longlink.proto', import.meta.url));
const service = protoLoader.loadSync(PROTO, { keepCase: false, defaults: false, oneofs: true })['longlink.v1.Streams'] as unknown as Record<
  string,
  { requestSerialize(m: object): Buffer }
>;
const subscribe = service.Subscribe!;
const channel = service.Channel!;

describe('decodeSubscribeRequest', () => {
  it('decodes what protobuf.js encodes: every Value kind, lists, nesting, unicode keys', () => {
    const params = {
      n: 3,
      neg: -1.5,
      s: 'héllo 😀',
      t: true,
      f: false,
      z: null,
      list: [1, 'two', [3, { four: 4 }], null, false],
      nested: { a: { b: { c: 'deep' } } },
      '': 'empty key',
      ключ: 'значение',
    };
    const bytes = subscribe.requestSerialize({ stream: 'demo/counter', params: toStruct(params), lastEventId: '42', channel: 'k'.repeat(16) });
    expect(decodeSubscribeRequest(bytes)).toEqual({ stream: 'demo/counter', params, lastEventId: '42', channel: 'k'.repeat(16) });
    expect(decodeSubscribeRequest(Buffer.alloc(0))).toEqual({ stream: '', params: {}, lastEventId: '', channel: '' });
  });

  it('refuses forbidden keys, truncated and malformed bytes with BAD_REQUEST; the deserializer never throws', () => {
    const proto = subscribe.requestSerialize({ stream: 's', params: toStruct({ ['__proto__']: 1 }) });
    const deserialize = nonThrowingDeserializer(decodeSubscribeRequest);
    for (const bytes of [
      proto,
      Buffer.from([0x12, 0x05, 0x0a]),
      Buffer.from([0x0b]),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ]) {
      const refusal = undecodableRequest(deserialize(bytes));
      expect(refusal).toBeInstanceOf(StreamException);
      expect(refusal!.code).toBe('BAD_REQUEST');
    }
    expect(undecodableRequest(deserialize(subscribe.requestSerialize({ stream: 'ok' })))).toBeUndefined();
  });
});

describe('decodeChannelRequest', () => {
  it('decodes subscribe, input and an empty request as protobuf.js encodes them', () => {
    const sub = channel.requestSerialize({ subscribe: { stream: 'duplex/echo', params: toStruct({ a: [1, { b: 'c' }] }), channel: 'c'.repeat(20) } });
    expect(decodeChannelRequest(sub)).toEqual({
      kind: 'subscribe',
      subscribe: { stream: 'duplex/echo', params: { a: [1, { b: 'c' }] }, lastEventId: '', channel: 'c'.repeat(20) },
    });
    const input = decodeChannelRequest(channel.requestSerialize({ input: { id: 'm1', data: Buffer.from('{"x":1}') } }));
    expect(input).toMatchObject({ kind: 'input', id: 'm1' });
    expect((input as { data: Buffer }).data.toString()).toBe('{"x":1}');
    expect(decodeChannelRequest(channel.requestSerialize({ input: {} }))).toEqual({ kind: 'input', id: '', data: Buffer.alloc(0) });
    expect(decodeChannelRequest(Buffer.alloc(0))).toEqual({ kind: 'none' });
  });

  it("checks the params' depth inside subscribe and refuses malformed bytes with BAD_REQUEST", () => {
    // Hand-built: protobuf.js cannot encode a Struct this deep. Field 1 (subscribe) holding field 2 (params).
    const struct = deepStruct(70);
    const inner = Buffer.concat([Buffer.from([0x12]), varint(struct.length), struct]);
    const bytes = Buffer.concat([Buffer.from([0x0a]), varint(inner.length), inner]);
    const deserialize = nonThrowingDeserializer((b) => decodeChannelRequest(b, 64));
    for (const bad of [bytes, Buffer.from([0x12, 0x05, 0x0a]), Buffer.from([0x0a, 0x02, 0x0b, 0x00])]) {
      const refusal = undecodableRequest(deserialize(bad));
      expect(refusal, bad.toString('hex')).toBeInstanceOf(StreamException);
      expect(refusal!.code).toBe('BAD_REQUEST');
    }
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** A `Struct` `{d: {d: ...}}` `levels` deep, encoded by hand. */
function deepStruct(levels: number): Buffer {
  let struct = Buffer.alloc(0);
  for (let i = 0; i < levels; i++) {
    const value = Buffer.concat([Buffer.from([0x2a]), varint(struct.length), struct]); // Value.struct_value
    const entry = Buffer.concat([Buffer.from([0x0a, 0x01, 0x64, 0x12]), varint(value.length), value]); // key "d", value
    struct = Buffer.concat([Buffer.from([0x0a]), varint(entry.length), entry]); // Struct.fields entry
  }
  return struct;
}
