import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { toStruct } from '../../lib/client/grpc.client-transport.js';
import type { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { GrpcTransport, type LonglinkModuleOptions } from '../../lib/index.js';
import { SubscriptionRecorder, type ClientSubscription, type StreamEnd, type SubscribeOptions, type TransportHarness } from './harness.js';
import { createHttpApp, type HttpPlatform } from './sse.harness.js';

const PROTO = fileURLToPath(new URL('../../proto/longlink/v1/longlink.proto', import.meta.url));
/** The sample's typed service: DemoModule binds demo/counter to it. */
export const DEMO_PROTO = fileURLToPath(new URL('../../proto/sample/v1/demo.proto', import.meta.url));
const LOADER = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true };

/** A plain object as a `google.protobuf.Struct`: the client's own conversion. */
export { toStruct };

type StreamsClient = grpc.Client & {
  Subscribe(request: object, metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<{ id: string; data: Buffer }>;
};

/** A generic `longlink.v1.Streams` client. */
export function streamsClient(port: number, options?: grpc.ChannelOptions): StreamsClient {
  const definition = protoLoader.loadSync(PROTO, LOADER);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    longlink: {
      v1: { Streams: new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => StreamsClient };
    };
  };
  return new pkg.longlink.v1.Streams(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
}

/** How a gRPC call ended, in harness terms. */
export function endFromStatus(status: grpc.StatusObject): StreamEnd {
  if (status.code === grpc.status.OK) return { kind: 'complete' };
  const code = status.metadata.get('longlink-error-code')[0];
  if (status.code === grpc.status.CANCELLED && code === undefined) return { kind: 'closed', reason: status.details };
  return { kind: 'error', code: typeof code === 'string' ? code : `GRPC_${status.code}`, message: status.details, native: status.code };
}

/** gRPC with a real `@grpc/grpc-js` client on the generic service. */
export class GrpcHarness implements TransportHarness {
  readonly transport = 'grpc' as const;
  readonly label: string;
  readonly moduleOptions: LonglinkModuleOptions = {
    grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1' },
  };
  private started: { app: INestApplication; client: StreamsClient } | undefined;
  private readonly calls = new Set<grpc.ClientReadableStream<unknown>>();

  constructor(private readonly platform: HttpPlatform = 'express') {
    this.label = `grpc/${platform}`;
  }

  get app(): INestApplication {
    if (!this.started) throw new Error('harness not started');
    return this.started.app;
  }

  async start(module: Type<unknown> | DynamicModule, configure?: (app: INestApplication) => void): Promise<void> {
    const { app } = await createHttpApp(this.platform, module, configure);
    this.started = { app, client: streamsClient(app.get(GrpcTransport).port) };
  }

  subscribe(stream: string, options: SubscribeOptions = {}): ClientSubscription {
    const recorder = new SubscriptionRecorder();
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(options.headers ?? {})) metadata.set(key, value);
    const call = this.started!.client.Subscribe({ stream, params: toStruct(options.params ?? {}), lastEventId: options.lastEventId ?? '' }, metadata);
    this.calls.add(call);
    call.on('data', (event: { id: string; data: Buffer; reset?: boolean }) =>
      recorder.event({
        id: event.id === '' ? undefined : event.id,
        data: JSON.parse(event.data.toString('utf8')),
        ...(event.reset ? { reset: true as const } : {}),
      }),
    );
    call.on('error', () => undefined); // the status event says how it ended
    call.on('status', (status: grpc.StatusObject) => {
      this.calls.delete(call);
      recorder.finish(endFromStatus(status));
    });
    return recorder.subscription(() => {
      this.calls.delete(call);
      call.cancel();
    });
  }

  async stop(): Promise<void> {
    for (const call of this.calls) call.cancel();
    this.calls.clear();
    this.started?.client.close();
    await this.started?.app.close();
    this.started = undefined;
  }
}
