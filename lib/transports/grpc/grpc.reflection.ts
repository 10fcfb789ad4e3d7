import type { Server as GrpcServer } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import type { ResolvedGrpcOptions } from '../../interfaces/longlink-options.interface.js';
import { buildFileDescriptorProtos, type ProtoFiles } from './grpc.descriptors.js';
import { loadProtobuf } from '../../internals/protobufjs.js';
import { packagedProto, type GrpcLibraries } from './grpc.loader.js';

/** The health service's name, and where its .proto file ships. */
export const GRPC_HEALTH_SERVICE = 'grpc.health.v1.Health';
const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

/**
 * Server reflection (v1 and v1alpha) by `@grpc/reflection`, fed with protoc-equivalent
 * descriptors of every served file (grpc.descriptors.ts) instead of proto-loader's, so that
 * grpcurl, Postman and Evans can resolve the services. It lists the served services, the
 * health service when on, and itself, as grpc-go's reflection does.
 *
 * @param services the application's services: `longlink.v1.Streams` and the typed ones.
 */
export function createReflection(
  libs: GrpcLibraries,
  options: ResolvedGrpcOptions,
  longlinkProto: string,
  services: string[],
): { addToServer(server: GrpcServer): void } {
  const sets: ProtoFiles[] = [{ paths: [longlinkProto] }];
  if (options.protoPath.length > 0) {
    const includeDirs = (options.loader as { includeDirs?: string[] } | undefined)?.includeDirs;
    sets.push({ paths: options.protoPath, includeDirs });
  }
  const listed = [...services];
  if (options.healthCheck) {
    sets.push({ paths: [packagedProto('grpc-health-check', 'proto/health/v1/health.proto')] });
    listed.push(GRPC_HEALTH_SERVICE);
  }
  sets.push({
    paths: ['v1', 'v1alpha'].map((v) => packagedProto('@grpc/reflection', `build/proto/grpc/reflection/${v}/reflection.proto`)),
  });
  listed.push(...REFLECTION_SERVICES);
  // @grpc/reflection reads only `fileDescriptorProtos` of a package definition's entries.
  const definition = { 'longlink:reflection': { fileDescriptorProtos: buildFileDescriptorProtos(loadProtobuf(), sets) } };
  return new libs.reflection.ReflectionService(definition as unknown as PackageDefinition, { services: listed });
}
