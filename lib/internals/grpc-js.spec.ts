import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { writePaths } from '../core/write-paths.js';
import { GrpcWriter } from '../transports/grpc/grpc.writer.js';
import { grpcCallCore } from './grpc-js.js';

/**
 * The grpc-js door on real grpc-js calls (a plain grpc-js server and client, no Nest): with
 * the call core's shape the writer goes straight to the HTTP/2 stream; with one member of that
 * shape gone (hidden behind a proxy that grpc-js itself still sees through), every message
 * takes grpc-js' public `call.write()`, counted as a fallback, and still arrives.
 */
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const parse = (bytes: Buffer): unknown => JSON.parse(bytes.toString());
const METHOD = {
  path: '/longlink.test.Door/Count',
  requestStream: false,
  responseStream: true,
  requestSerialize: json,
  requestDeserialize: parse,
  responseSerialize: json,
  responseDeserialize: parse,
};

type Call = grpc.ServerWritableStream<unknown, unknown>;

/** Hides `member` of the call core from readers other than grpc-js' own code (which runs with `this` = the real core). */
function hide(call: Call, member: string): void {
  const core = (call as unknown as { call: object }).call;
  (call as unknown as { call: object }).call = new Proxy(core, {
    get(target, key) {
      if (key === member) return undefined;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function serve(prepare: (call: Call) => void): Promise<{ messages: unknown[]; moved: { direct: number; fallback: number }; sawCore: boolean }> {
  let sawCore = false;
  const server = new grpc.Server();
  server.addService(
    { Count: METHOD },
    {
      Count: (call: Call) => {
        prepare(call);
        sawCore = grpcCallCore(call) !== undefined;
        const writer = new GrpcWriter(call, (event) => event as never, grpc.Metadata, 1000);
        for (let n = 0; n < 5; n++) writer.write({ message: { n }, size: 16 });
        writer.end();
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const Client = grpc.makeGenericClientConstructor({ Count: METHOD }, 'Door');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Count(req: object): grpc.ClientReadableStream<unknown>;
  };
  const before = { direct: writePaths.grpcDirect, fallback: writePaths.grpcFallback };
  try {
    const messages: unknown[] = [];
    const call = client.Count({});
    call.on('data', (m) => messages.push(m));
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(status.code).toBe(grpc.status.OK);
    return { messages, sawCore, moved: { direct: writePaths.grpcDirect - before.direct, fallback: writePaths.grpcFallback - before.fallback } };
  } finally {
    client.close();
    server.forceShutdown();
  }
}

describe('grpc-js door', () => {
  it('the installed grpc-js has the call core shape: messages go straight to the HTTP/2 stream', async () => {
    const { messages, moved, sawCore } = await serve(() => undefined);
    expect(sawCore).toBe(true);
    expect(messages).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
    expect(moved).toEqual({ direct: 5, fallback: 0 });
  });

  it.each(['stream', 'handler', 'maxSendMessageSize', 'maybeSendMetadata'])(
    'without call.call.%s the public call.write() is taken, counted, and every message arrives',
    async (member) => {
      const { messages, moved, sawCore } = await serve((call) => hide(call, member));
      expect(sawCore).toBe(false);
      expect(messages).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
      expect(moved).toEqual({ direct: 0, fallback: 5 });
    },
  );
});
