import type { Server as GrpcServer } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import type { ResolvedGrpcOptions } from '../../interfaces/longlink-options.interface.js';
import { startNestGrpcServer, type NativeGrpcHandler, type NestGrpcServer } from '../../internals/nest-microservices.js';
import type { GrpcHealthStatuses } from '../../health/grpc-health.reporter.js';
import { LONGLINK_GRPC_PACKAGE, longlinkProtoPath } from './grpc.definitions.js';
import type { GrpcLibraries } from './grpc.loader.js';
import { createReflection } from './grpc.reflection.js';

/** A started gRPC server. */
export interface RunningGrpcServer extends NestGrpcServer {
  /** The bound port (the real one when `url` asked for port 0). */
  port: number;
  /** The handler patterns Nest attached to a method of the loaded protos. */
  attached: Set<string>;
  /** The standard health service, when `grpc.healthCheck` is on (every service starts `SERVING`). */
  health: GrpcHealthStatuses | undefined;
}

/** What {@link startGrpcServer} serves. */
export interface GrpcServerPlan {
  definition: PackageDefinition;
  /** Native handlers by pattern (`nestGrpcPattern`). */
  handlers: Map<string, NativeGrpcHandler>;
  /** Patterns that must be attached (the generic service's). */
  required: string[];
  /** Served services (generic and typed), for health and reflection. */
  services: string[];
}

/**
 * Starts the gRPC server: Nest's `ServerGrpc` (through its door) on a grpc-js server built with
 * the module's channel options, plus the health service and server reflection when on.
 */
export async function startGrpcServer(libs: GrpcLibraries, options: ResolvedGrpcOptions, plan: GrpcServerPlan): Promise<RunningGrpcServer> {
  const { grpc } = libs;
  const reflection = options.reflection ? createReflection(libs, options, longlinkProtoPath(), plan.services) : undefined;
  let port = 0;
  let health: InstanceType<GrpcLibraries['health']['HealthImplementation']> | undefined;
  const { server, attached } = await startNestGrpcServer(libs.microservices, {
    options: {
      url: options.url,
      packageDefinition: plan.definition,
      package: [LONGLINK_GRPC_PACKAGE, ...options.package],
      keepalive: options.keepalive,
      onLoadPackageDefinition: (_pkg: PackageDefinition, grpcServer: GrpcServer) => {
        if (options.healthCheck) {
          health = new libs.health.HealthImplementation(Object.fromEntries(['', ...plan.services].map((s) => [s, 'SERVING'])));
          health.addToServer(grpcServer);
        }
        reflection?.addToServer(grpcServer);
      },
    },
    handlers: plan.handlers,
    required: plan.required,
    createServer: async (keepalive) => {
      const channelOptions: Record<string, unknown> = { ...(options.channelOptions ?? {}) };
      if (options.maxSendMessageLength) channelOptions['grpc.max_send_message_length'] = options.maxSendMessageLength;
      channelOptions['grpc.max_receive_message_length'] = options.maxReceiveMessageLength;
      if (options.maxMetadataSize) channelOptions['grpc.max_metadata_size'] = options.maxMetadataSize;
      const grpcServer = new grpc.Server({ ...channelOptions, ...keepalive });
      const credentials = (options.credentials as never) ?? grpc.ServerCredentials.createInsecure();
      port = await new Promise<number>((resolve, reject) =>
        grpcServer.bindAsync(options.url, credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
      );
      return grpcServer;
    },
  });
  return { close: () => server.close(), grpcServer: () => server.grpcServer(), port, attached, health };
}

/** Lets the statuses already sent go out (within `drainMs`), then stops the server for good. */
export async function stopGrpcServer(server: NestGrpcServer, drainMs: number): Promise<void> {
  const grpcServer = server.grpcServer();
  if (grpcServer) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        grpcServer.forceShutdown();
        resolve();
      }, drainMs);
      grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  await server.close();
}
