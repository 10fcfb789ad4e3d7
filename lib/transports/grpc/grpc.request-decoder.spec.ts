import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { toStruct } from '../../client/grpc.client-transport.js';
import { StreamException } from '../../errors/stream-exception.js';
import { decodeSubscribeRequest, nonThrowingDeserializer, undecodableRequest } from './grpc.request-decoder.js';

const PROTO = fileURLToPath(new URL('../../../proto/longlink/v1/longlink.proto', import.meta.url));
const subscribe = (protoLoader.loadSync(PROTO, { keepCase: false, defaults: false, oneofs: true })['longlink.v1.Streams'] as unknown as Record<
  string,
  { requestSerialize(m: object): Buffer }
>).Subscribe!;

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
    const bytes = subscribe.requestSerialize({ stream: 'demo/counter', params: toStruct(params), lastEventId: '42' });
    expect(decodeSubscribeRequest(bytes)).toEqual({ stream: 'demo/counter', params, lastEventId: '42' });
    expect(decodeSubscribeRequest(Buffer.alloc(0))).toEqual({ stream: '', params: {}, lastEventId: '' });
  });

  it('refuses forbidden keys, truncated and malformed bytes with BAD_REQUEST; the deserializer never throws', () => {
    const proto = subscribe.requestSerialize({ stream: 's', params: toStruct({ ['__proto__']: 1 }) });
    const deserialize = nonThrowingDeserializer(decodeSubscribeRequest);
    for (const bytes of [proto, Buffer.from([0x12, 0x05, 0x0a]), Buffer.from([0x0b]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]) {
      const refusal = undecodableRequest(deserialize(bytes));
      expect(refusal).toBeInstanceOf(StreamException);
      expect(refusal!.code).toBe('BAD_REQUEST');
    }
    expect(undecodableRequest(deserialize(subscribe.requestSerialize({ stream: 'ok' })))).toBeUndefined();
  });
});
