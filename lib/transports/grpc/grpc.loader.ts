import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import type * as GrpcJs from '@grpc/grpc-js';
import type * as ProtoLoader from '@grpc/proto-loader';
import type * as Microservices from '@nestjs/microservices';

const require = createRequire(import.meta.url);

function load<T>(name: string, install: string): T {
  try {
    return require(name) as T;
  } catch (error) {
    if ((error as { code?: string }).code !== 'MODULE_NOT_FOUND' && (error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') {
      throw error;
    }
    throw new Error(`LonglinkModule: the gRPC transport (option "grpc") needs ${name}. Install it with: npm install ${install}`, {
      cause: error,
    });
  }
}

const INSTALL = '@nestjs/microservices @grpc/grpc-js @grpc/proto-loader @grpc/reflection grpc-health-check';

/** The gRPC libraries, loaded only when the gRPC transport is enabled. */
export interface GrpcLibraries {
  grpc: typeof GrpcJs;
  protoLoader: typeof ProtoLoader;
  microservices: typeof Microservices;
  reflection: {
    ReflectionService: new (pkg: ProtoLoader.PackageDefinition, options?: { services?: string[] }) => { addToServer(server: GrpcJs.Server): void };
  };
  health: {
    HealthImplementation: new (statuses: Record<string, string>) => {
      addToServer(server: GrpcJs.Server): void;
      setStatus(service: string, status: string): void;
    };
  };
}

export function loadGrpc(): GrpcLibraries {
  return {
    grpc: load('@grpc/grpc-js', INSTALL),
    protoLoader: load('@grpc/proto-loader', INSTALL),
    microservices: load('@nestjs/microservices', INSTALL),
    reflection: load('@grpc/reflection', INSTALL),
    health: load('grpc-health-check', INSTALL),
  };
}

/** A .proto file shipped inside an installed package (`grpc-health-check`, `@grpc/reflection`). */
export function packagedProto(pkg: string, path: string): string {
  const main = require.resolve(pkg);
  const root = main.slice(0, main.lastIndexOf(`${pkg.replace('/', sep)}${sep}`) + pkg.length + 1);
  return join(root, path);
}
