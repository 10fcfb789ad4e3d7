import { existsSync } from 'node:fs';
import { LONGLINK_LOGGER_CONTEXT } from '../../longlink.constants.js';
import { fileURLToPath } from 'node:url';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Server as GrpcServer, ServerWritableStream } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { LonglinkConfigError } from '../../core/longlink-options.js';
import { StreamCallImpl } from '../../core/stream-call.js';
import type { StreamDefinition } from '../../core/stream-definition.js';
import { StreamRegistry } from '../../core/stream-registry.js';
import { StreamRunner } from '../../core/stream-runner.js';
import { StreamHub } from '../../hub/stream-hub.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { excerpt } from '../../errors/error-bounds.js';
import { checkRequestedStreamName } from '../../core/stream-name.js';
import { StreamException, toStreamException, shuttingDownError } from '../../errors/stream-exception.js';
import type { ResolvedGrpcOptions, ResolvedLonglinkOptions } from '../../interfaces/longlink-options.interface.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../../longlink.tokens.js';
import { cachingSerializer, grpcGenericFrame, grpcTypedFrame, type GrpcFrame } from './grpc.framing.js';
import { loadGrpc, type GrpcLibraries } from './grpc.loader.js';
import { createReflection } from './grpc.reflection.js';
import { checkLastEventId, metadataToHeaders } from './grpc.request.js';
import { decodeSubscribeRequest, nonThrowingDeserializer, undecodableRequest, type DecodedSubscribeRequest } from './grpc.request-decoder.js';
import { GrpcWriter } from './grpc.writer.js';

/** The generic service: `longlink.v1.Streams/Subscribe`. */
export const LONGLINK_GRPC_PACKAGE = 'longlink.v1';
export const LONGLINK_GRPC_SERVICE = 'longlink.v1.Streams';

/** Loader options for the user's protos unless they give their own. */
const DEFAULT_LOADER = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true };


type Call = ServerWritableStream<Record<string, unknown>, unknown>;
/** The codec functions of one method of a proto-loader service definition. */
type MethodCodec = { responseSerialize: (m: object) => Buffer; requestDeserialize: (b: Buffer) => object };
type NativeHandler = (call: Call) => void;
/** Marks our handlers among the microservice's message handlers. */
const NATIVE = Symbol('longlink:grpc-native');

/** `longlink.proto` sits in `proto/` at the package root: two levels up from the source, three from `dist/`. */
function longlinkProtoPath(): string {
  for (const candidate of ['../../../proto/longlink/v1/longlink.proto', '../../../../proto/longlink/v1/longlink.proto']) {
    const path = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('LonglinkModule: proto/longlink/v1/longlink.proto not found beside the package');
}

/**
 * Serves every `@Stream()` over gRPC: as `longlink.v1.Streams/Subscribe` by name, and as
 * methods of the application's own services where a stream has `grpc: { service, method }`.
 * The server is a `ServerGrpc` from `@nestjs/microservices` (gRPC transport, `@grpc/grpc-js`,
 * `@grpc/proto-loader`), run beside the HTTP server: a hybrid application. It also serves
 * the standard health service and server reflection. See PROTOCOL.md §5.
 */
@Injectable()
export class GrpcTransport implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  private server: { close(): Promise<void>; grpcServer(): GrpcServer | undefined } | undefined;
  private health: InstanceType<GrpcLibraries['health']['HealthImplementation']> | undefined;
  private boundPort = 0;
  private services: string[] = [];
  private stopping = false;
  private hubDown = false;

  constructor(
    private readonly registry: StreamRegistry,
    private readonly runner: StreamRunner,
    @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options: ResolvedLonglinkOptions,
    @Optional() private readonly hub?: StreamHub,
  ) {}

  /** Whether the gRPC server is up and accepting calls (false when off, and from the start of a shutdown). */
  get serving(): boolean {
    return this.server !== undefined && !this.stopping && !this.runner.isShuttingDown;
  }

  /** Sets every served service's `grpc.health.v1` status from the module's state. */
  private updateHealth(): void {
    const status = this.serving && !this.hubDown ? 'SERVING' : 'NOT_SERVING';
    for (const service of ['', ...this.services]) this.health?.setStatus(service, status);
  }

  /** The port the gRPC server is bound to (the real one when `url` asked for port 0); 0 when off. */
  get port(): number {
    return this.boundPort;
  }

  async onApplicationBootstrap(): Promise<void> {
    const options = this.options.grpc;
    if (!options) return;
    const libs = loadGrpc();
    const definition = this.loadDefinitions(libs, options);
    const services = [LONGLINK_GRPC_SERVICE, ...this.typedServices(definition)];
    this.services = services;
    const handlers = new Map<string, NativeHandler>();
    handlers.set(pattern('Streams', 'Subscribe'), (call) => this.serveGeneric(call, libs));
    const typed = this.registry.forTransport('grpc').filter((d) => d.options.grpc);
    const boundBy = new Map<string, string>();
    for (const def of typed) {
      const { service, method } = def.options.grpc!;
      const key = pattern(service, method);
      if (handlers.has(key)) {
        // Also a handler with several versions (one stream name per version) and one binding.
        throw new LonglinkConfigError(
          `LonglinkModule: two streams are bound to gRPC method ${service}/${method}: "${boundBy.get(key)}" and "${def.name}"`,
        );
      }
      boundBy.set(key, def.name);
      this.checkTypedMethod(definition, options, def);
      handlers.set(key, (call) => this.serveTyped(def, call, libs));
    }
    const attached = new Set<string>();
    this.server = await this.startServer(libs, options, definition, handlers, attached, services);
    for (const def of typed) {
      const { service, method } = def.options.grpc!;
      if (!attached.has(pattern(service, method))) {
        await this.server.close();
        throw new LonglinkConfigError(
          `LonglinkModule: @Stream("${def.name}") is bound to gRPC method ${service}/${method}, which is not in grpc.protoPath/grpc.package`,
        );
      }
    }
    this.logger.log(`gRPC on ${options.url.replace(/:\d+$/, `:${this.boundPort}`)} (${services.join(', ')})`);
    // Health follows the module's state: NOT_SERVING from the start of a shutdown (the core's
    // one "shutting down" state), and while the hub's Redis is lost if so configured.
    this.runner.onShutdown(() => this.updateHealth());
    if (options.healthFollowsHub && this.hub) {
      this.hub.onConnectionChange((connected) => {
        this.hubDown = !connected;
        this.updateHealth();
      });
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.server) return;
    this.stopping = true;
    this.updateHealth();
    this.runner.closeAll(); // every open call gets UNAVAILABLE with its hand-over trailers
    const grpcServer = this.server.grpcServer();
    if (grpcServer) {
      // Let the UNAVAILABLE statuses go out (within shutdown.drainMs), then stop for good.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          grpcServer.forceShutdown();
          resolve();
        }, this.runner.drainRemainingMs());
        grpcServer.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await this.server.close();
    this.server = undefined;
  }

  private loadDefinitions(libs: GrpcLibraries, options: ResolvedGrpcOptions): PackageDefinition {
    const own = libs.protoLoader.loadSync(longlinkProtoPath(), { ...DEFAULT_LOADER, keepCase: false });
    // A broadcast event is one message object for every call: encode it once.
    const subscribe = (own[LONGLINK_GRPC_SERVICE] as unknown as Record<string, MethodCodec>).Subscribe!;
    subscribe.responseSerialize = cachingSerializer(subscribe.responseSerialize);
    // Decoded by hand: params' depth checked as read, failures INVALID_ARGUMENT (not INTERNAL).
    const maxDepth = this.options.maxParamsDepth;
    subscribe.requestDeserialize = nonThrowingDeserializer((bytes) => decodeSubscribeRequest(bytes, maxDepth));
    if (options.protoPath.length === 0) return own;
    const user = libs.protoLoader.loadSync(options.protoPath, { ...DEFAULT_LOADER, ...(options.loader ?? {}) } as never);
    return { ...own, ...user };
  }

  /** Fully qualified names of the services in the user's packages. */
  private typedServices(definition: PackageDefinition): string[] {
    const packages = this.options.grpc!.package;
    return Object.entries(definition)
      .filter(([name, value]) => packages.some((p) => name.startsWith(`${p}.`)) && isServiceDefinition(value))
      .map(([name]) => name);
  }

  /** Checks a bound method's shape and makes its request deserializer one that never throws. */
  private checkTypedMethod(definition: PackageDefinition, options: ResolvedGrpcOptions, def: StreamDefinition): void {
    const { service, method } = def.options.grpc!;
    const full = [service, ...options.package.map((p) => `${p}.${service}`)].find((n) => isServiceDefinition(definition[n]));
    type Rpc = MethodCodec & { requestStream: boolean; responseStream: boolean };
    const rpc = full ? (definition[full] as unknown as Record<string, Rpc>)[method] : undefined;
    if (rpc && (rpc.requestStream || !rpc.responseStream)) {
      throw new LonglinkConfigError(
        `LonglinkModule: gRPC method ${service}/${method} (for @Stream("${def.name}")) must be server-streaming: rpc ${method}(Request) returns (stream Reply)`,
      );
    }
    // A bound method's requests: protobuf.js' own decoding (nesting capped at 100 messages),
    // failures INVALID_ARGUMENT. The application's other methods are left as they are.
    if (rpc) rpc.requestDeserialize = nonThrowingDeserializer(rpc.requestDeserialize);
  }

  private async startServer(
    libs: GrpcLibraries,
    options: ResolvedGrpcOptions,
    definition: PackageDefinition,
    handlers: Map<string, NativeHandler>,
    attached: Set<string>,
    services: string[],
  ): Promise<{ close(): Promise<void>; grpcServer(): GrpcServer | undefined }> {
    const { grpc } = libs;
    const transport = this;
    const reflection = options.reflection ? createReflection(libs, options, longlinkProtoPath(), services) : undefined;
    const ServerGrpc = libs.microservices.ServerGrpc as unknown as new (options: object) => {
      listen(callback: (error?: unknown) => void): Promise<void>;
      close(): Promise<void>;
      addHandler(pattern: string, callback: Function): void;
      createServiceMethod(handler: Function, native: unknown, streamType: unknown): Function;
      getKeepaliveOptions(): Record<string, unknown>;
    };
    /** Nest's gRPC server, with our handlers served natively and the bound port kept. */
    class LonglinkGrpcServer extends ServerGrpc {
      grpcClient: GrpcServer | undefined;

      override createServiceMethod(handler: Function, native: unknown, streamType: unknown): Function {
        const ours = (handler as { [NATIVE]?: { key: string; serve: NativeHandler } })[NATIVE];
        if (!ours) return super.createServiceMethod(handler, native, streamType);
        attached.add(ours.key);
        return ours.serve;
      }

      async createClient(): Promise<GrpcServer> {
        const channelOptions: Record<string, unknown> = { ...(options.channelOptions ?? {}) };
        if (options.maxSendMessageLength) channelOptions['grpc.max_send_message_length'] = options.maxSendMessageLength;
        channelOptions['grpc.max_receive_message_length'] = options.maxReceiveMessageLength;
        if (options.maxMetadataSize) channelOptions['grpc.max_metadata_size'] = options.maxMetadataSize;
        const server = new grpc.Server({ ...channelOptions, ...this.getKeepaliveOptions() });
        const credentials = (options.credentials as never) ?? grpc.ServerCredentials.createInsecure();
        transport.boundPort = await new Promise<number>((resolve, reject) =>
          server.bindAsync(options.url, credentials, (error, port) => (error ? reject(error) : resolve(port))),
        );
        return server;
      }
    }
    const server = new LonglinkGrpcServer({
      url: options.url,
      packageDefinition: definition,
      package: [LONGLINK_GRPC_PACKAGE, ...options.package],
      keepalive: options.keepalive,
      onLoadPackageDefinition: (_pkg: PackageDefinition, grpcServer: GrpcServer) => {
        if (options.healthCheck) {
          this.health = new libs.health.HealthImplementation(
            Object.fromEntries(['', ...services].map((s) => [s, 'SERVING'])),
          );
          this.health.addToServer(grpcServer);
        }
        reflection?.addToServer(grpcServer);
      },
    });
    for (const [key, serve] of handlers) {
      const handler = Object.assign(() => undefined, { [NATIVE]: { key, serve } });
      server.addHandler(key, handler);
    }
    await new Promise<void>((resolve, reject) => void server.listen((error) => (error ? reject(error) : resolve())));
    return { close: () => server.close(), grpcServer: () => server.grpcClient };
  }

  private serveGeneric(call: Call, libs: GrpcLibraries): void {
    const writer = this.writer(call, libs, grpcGenericFrame);
    if (!writer) return;
    try {
      const undecodable = undecodableRequest(call.request);
      if (undecodable) throw undecodable;
      const request = call.request as unknown as DecodedSubscribeRequest;
      const name = checkRequestedStreamName(request.stream);
      const def = this.registry.find(name, 'grpc');
      if (!def) {
        throw new StreamException(StreamErrorCode.NOT_FOUND, `Unknown stream ${excerpt(name)}`);
      }
      const metadataId = call.metadata.get('last-event-id')[0];
      this.run(def, call, writer, {
        params: request.params,
        lastEventId: checkLastEventId(request.lastEventId || (typeof metadataId === 'string' ? metadataId : undefined)),
      });
    } catch (error) {
      // Metrics: no stream attribute for names that are not streams (unbounded cardinality).
      const name = (call.request as { stream?: string }).stream ?? '';
      this.refuse(writer, this.registry.find(name, 'grpc')?.name ?? '', toStreamException(error));
    }
  }

  private serveTyped(def: StreamDefinition, call: Call, libs: GrpcLibraries): void {
    const writer = this.writer(call, libs, grpcTypedFrame);
    if (!writer) return;
    try {
      const undecodable = undecodableRequest(call.request);
      if (undecodable) throw undecodable;
      const metadataId = call.metadata.get('last-event-id')[0];
      this.run(def, call, writer, {
        params: { ...call.request },
        lastEventId: checkLastEventId(typeof metadataId === 'string' ? metadataId : undefined),
      });
    } catch (error) {
      this.refuse(writer, def.name, toStreamException(error));
    }
  }

  private writer(call: Call, libs: GrpcLibraries, frame: (event: StreamEvent) => GrpcFrame): GrpcWriter | undefined {
    const writer = new GrpcWriter(call, frame, libs.grpc.Metadata, this.options.grpc!.disconnectGraceMs);
    if (writer.gone) return undefined;
    if (this.stopping || this.runner.isShuttingDown) {
      this.refuse(writer, '', this.runner.refusal());
      return undefined;
    }
    return writer;
  }

  /** Ends a call refused before its stream started (counted in metrics). */
  private refuse(writer: GrpcWriter, stream: string, error: StreamException): void {
    this.runner.refused('grpc', stream, error);
    writer.end(error);
  }

  private run(
    def: StreamDefinition,
    call: Call,
    writer: GrpcWriter,
    request: { params: Record<string, unknown>; lastEventId: string | undefined },
  ): void {
    const streamCall = new StreamCallImpl({
      stream: def.name,
      transport: 'grpc',
      params: request.params,
      lastEventId: request.lastEventId,
      headers: () => metadataToHeaders(call.metadata),
      raw: call,
    });
    this.runner.run(def, streamCall, writer);
  }
}

function pattern(service: string, rpc: string): string {
  // The pattern ServerGrpc looks handlers up by (streaming "no_stream": request is not a stream).
  return JSON.stringify({ service, rpc, streaming: 'no_stream' });
}

function isServiceDefinition(value: unknown): boolean {
  return !!value && typeof value === 'object' && !('format' in value) && Object.values(value).some((m) => m && typeof m === 'object' && 'path' in m);
}
