import { Inject, Injectable, Logger, Optional, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { LonglinkConfigError } from '../../errors/longlink-config.error.js';
import { StreamCallImpl } from '../../core/stream-call.js';
import type { StreamDefinition } from '../../core/stream-definition.js';
import { checkRequestedStreamName } from '../../core/stream-name.js';
import { StreamRegistry } from '../../core/stream-registry.js';
import { StreamRunner } from '../../core/stream-runner.js';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { excerpt } from '../../errors/error-bounds.js';
import { StreamException, toStreamException } from '../../errors/stream-exception.js';
import { GrpcHealthReporter } from '../../health/grpc-health.reporter.js';
import type { ResolvedLonglinkOptions } from '../../interfaces/longlink-options.interface.js';
import type { StreamEvent } from '../../interfaces/stream-event.interface.js';
import { nestGrpcPattern, type NativeGrpcHandler } from '../../internals/nest-microservices.js';
import { LONGLINK_LOGGER_CONTEXT } from '../../longlink.constants.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../../longlink.tokens.js';
import { LONGLINK_GRPC_SERVICE, checkTypedMethod, loadGrpcDefinitions, typedServices } from './grpc.definitions.js';
import { grpcGenericFrame, grpcTypedFrame, type GrpcFrame } from './grpc.framing.js';
import { loadGrpc, type GrpcLibraries } from './grpc.loader.js';
import { checkLastEventId, metadataToHeaders } from './grpc.request.js';
import { undecodableRequest, type DecodedSubscribeRequest } from './grpc.request-decoder.js';
import { GrpcPeerRates, type GrpcDuplexCall } from './grpc.channel.js';
import { serveChannel, serveTypedBidi, type GrpcBidiHost, type GrpcRunRequest } from './grpc.bidi.js';
import { startGrpcServer, stopGrpcServer, type RunningGrpcServer } from './grpc.server.js';
import { GrpcWriter } from './grpc.writer.js';

export { LONGLINK_GRPC_PACKAGE, LONGLINK_GRPC_SERVICE } from '../../protocol/grpc.protocol.js';

type Call = ServerWritableStream<Record<string, unknown>, unknown>;

/**
 * Serves every `@Stream()` over gRPC: as `longlink.v1.Streams/Subscribe` by name (and
 * `Channel`, bidi, for streams that take client messages: `grpc.channel.ts`), and as methods of
 * the application's own services where a stream has `grpc: { service, method }`.
 * The server is a `ServerGrpc` from `@nestjs/microservices` (gRPC transport, `@grpc/grpc-js`,
 * `@grpc/proto-loader`), run beside the HTTP server: a hybrid application. It also serves
 * the standard health service (statuses by `GrpcHealthReporter`) and server reflection.
 * See PROTOCOL.md §5.
 *
 * This file routes calls to streams; the service definitions are loaded by
 * `grpc.definitions.ts`, the server is started and stopped by `grpc.server.ts`.
 */
@Injectable()
export class GrpcTransport implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LONGLINK_LOGGER_CONTEXT);
  private server: RunningGrpcServer | undefined;
  private stopping = false;
  /** `input.rateLimit` per gRPC connection. */
  private readonly rates = new GrpcPeerRates(() => this.runner.inputRateLimiter());

  constructor(
    private readonly registry: StreamRegistry,
    private readonly runner: StreamRunner,
    @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options: ResolvedLonglinkOptions,
    @Optional() private readonly health?: GrpcHealthReporter,
  ) {}

  /** Whether the gRPC server is up and accepting calls (false when off, and from the start of a shutdown). */
  get serving(): boolean {
    return this.server !== undefined && !this.stopping && !this.runner.isShuttingDown;
  }

  /** The port the gRPC server is bound to (the real one when `url` asked for port 0); 0 when off. */
  get port(): number {
    return this.server?.port ?? 0;
  }

  async onApplicationBootstrap(): Promise<void> {
    const options = this.options.grpc;
    if (!options) return;
    const libs = loadGrpc();
    const definition = loadGrpcDefinitions(libs, options, this.options.maxParamsDepth);
    const services = [LONGLINK_GRPC_SERVICE, ...typedServices(definition, options.package)];
    const pattern = (service: string, rpc: string, bidi = false): string => nestGrpcPattern(libs.microservices, service, rpc, bidi);
    const generic = pattern('Streams', 'Subscribe');
    const channel = pattern('Streams', 'Channel', true);
    const handlers = new Map<string, NativeGrpcHandler>();
    handlers.set(generic, (call) => this.serveGeneric(call, libs));
    const bidi = this.bidiHost(libs);
    handlers.set(channel, (call) => serveChannel(bidi, call as unknown as GrpcDuplexCall));
    const typed = this.registry.forTransport('grpc').filter((d) => d.options.grpc);
    const boundBy = new Map<string, string>();
    const keys = new Map<StreamDefinition, string>();
    for (const def of typed) {
      const { service, method } = def.options.grpc!;
      const isBidi = checkTypedMethod(definition, options, def) === true;
      const key = pattern(service, method, isBidi);
      keys.set(def, key);
      if (handlers.has(key)) {
        // Also a handler with several versions (one stream name per version) and one binding.
        throw new LonglinkConfigError(
          `LonglinkModule: two streams are bound to gRPC method ${service}/${method}: "${boundBy.get(key)}" and "${def.name}"`,
        );
      }
      boundBy.set(key, def.name);
      handlers.set(key, isBidi ? (call) => serveTypedBidi(bidi, def, call as unknown as GrpcDuplexCall) : (call) => this.serveTyped(def, call, libs));
    }
    const server = await startGrpcServer(libs, options, { definition, handlers, required: [generic, channel], services });
    for (const def of typed) {
      const { service, method } = def.options.grpc!;
      if (!server.attached.has(keys.get(def)!)) {
        await server.close();
        throw new LonglinkConfigError(
          `LonglinkModule: @Stream("${def.name}") is bound to gRPC method ${service}/${method}, which is not in grpc.protoPath/grpc.package`,
        );
      }
    }
    this.server = server;
    this.logger.log(`gRPC on ${options.url.replace(/:\d+$/, `:${server.port}`)} (${services.join(', ')})`);
    this.health?.follow(server.health, services, () => this.serving);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.server) return;
    this.stopping = true;
    this.health?.update();
    this.runner.closeAll(); // every open call gets UNAVAILABLE with its hand-over trailers
    // Let the UNAVAILABLE statuses go out (within shutdown.drainMs), then stop for good.
    await stopGrpcServer(this.server, this.runner.drainRemainingMs());
    this.server = undefined;
  }

  private serveGeneric(call: Call, libs: GrpcLibraries): void {
    const writer = this.writer(call, libs, grpcGenericFrame);
    if (!writer) return;
    try {
      const undecodable = undecodableRequest(call.request);
      if (undecodable) throw undecodable;
      const request = call.request as unknown as DecodedSubscribeRequest;
      const def = this.find(request.stream);
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

  /** What the bidi methods (`grpc.bidi.ts`) use of this transport. */
  private bidiHost(libs: GrpcLibraries): GrpcBidiHost {
    return {
      writer: (call, frame) => this.writer(call as unknown as Call, libs, frame),
      refuse: (writer, stream, error) => this.refuse(writer, stream, error),
      find: (requested) => this.find(requested),
      known: (requested) => this.registry.find(requested, 'grpc')?.name ?? '',
      closing: () => (this.stopping || this.runner.isShuttingDown ? this.runner.refusal() : undefined),
      run: (def, call, writer, request) => this.run(def, call as unknown as Call, writer, request),
      rate: (call) => this.rates.acquire(call),
      maxParamsDepth: this.options.maxParamsDepth,
      logger: this.logger,
    };
  }

  private find(requested: unknown): StreamDefinition {
    const name = checkRequestedStreamName(requested);
    const def = this.registry.find(name, 'grpc');
    if (!def) throw new StreamException(StreamErrorCode.NOT_FOUND, `Unknown stream ${excerpt(name)}`);
    return def;
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

  private run(def: StreamDefinition, call: Call, writer: GrpcWriter, request: GrpcRunRequest): StreamCallImpl {
    const streamCall = new StreamCallImpl({
      stream: def.name,
      transport: 'grpc',
      params: request.params,
      lastEventId: request.lastEventId,
      headers: () => metadataToHeaders(call.metadata),
      raw: call,
      channel: request.channel,
      inputRate: request.inputRate,
    });
    this.runner.run(def, streamCall, writer);
    return streamCall;
  }
}
