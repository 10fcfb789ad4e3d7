/**
 * The one door to protobufjs: where the module finds it, and the one private member it reads.
 *
 * Why: server reflection serves descriptors built as protoc builds them
 * (`transports/grpc/grpc.descriptors.ts`), parsed with the protobufjs that `@grpc/proto-loader`
 * itself uses, resolved from proto-loader's own folder: the parser the served definitions came
 * from, installed with it, so the module needs no protobufjs dependency of its own. A file's
 * `syntax`/`edition` is kept by protobufjs only in the private `_edition` of each object it
 * defines (`'proto2'`, `'proto3'`, `'2023'`).
 *
 * Checked once, on first load ({@link loadProtobuf}): the classes used are there, the
 * descriptor extension has `FileDescriptorProto`, and parsing a proto2 and a proto3 file sets
 * `_edition`. Otherwise starting with `grpc.reflection` fails naming the protobufjs version
 * found and the one this was written for (no silent fallback: a wrong `syntax` would make
 * grpcurl encode proto2 fields as proto3).
 */
import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs';
import { shapeError } from './package-version.js';

/** The protobufjs versions this door was written against. */
const PROTOBUFJS_EXPECTED = '7.x (7.4 or later)';

/** The protobufjs module proto-loader uses, and its descriptor extension. */
export interface ProtobufLibraries {
  protobuf: typeof Protobuf;
  descriptor: { FileDescriptorProto: Protobuf.Type };
}

let loaded: ProtobufLibraries | undefined;

/** protobufjs and its descriptor extension, from `@grpc/proto-loader`'s folder; checked on first load. */
export function loadProtobuf(): ProtobufLibraries {
  if (loaded) return loaded;
  const loaderEntry = createRequire(import.meta.url).resolve('@grpc/proto-loader');
  const fromLoader = createRequire(loaderEntry);
  let libs: ProtobufLibraries | undefined;
  let missing: string | undefined;
  try {
    libs = {
      protobuf: fromLoader('protobufjs') as ProtobufLibraries['protobuf'],
      descriptor: fromLoader('protobufjs/ext/descriptor') as ProtobufLibraries['descriptor'],
    };
    missing = missingProtobufShape(libs);
  } catch (error) {
    missing = `a loadable protobufjs/ext/descriptor (${error instanceof Error ? error.message : String(error)})`;
  }
  if (missing) throw shapeError('gRPC server reflection', 'protobufjs', PROTOBUFJS_EXPECTED, missing, loaderEntry);
  loaded = libs!;
  return loaded;
}

/** What of the shape this door relies on is missing, if anything. */
export function missingProtobufShape(libs: ProtobufLibraries): string | undefined {
  const { protobuf, descriptor } = libs;
  for (const name of ['Root', 'Namespace', 'Type', 'Service', 'Enum', 'Field', 'MapField', 'parse'] as const) {
    if (typeof protobuf[name] !== 'function') return `protobuf.${name}`;
  }
  if (!protobuf.common || typeof protobuf.common !== 'function') return 'protobuf.common';
  if (!descriptor?.FileDescriptorProto || typeof descriptor.FileDescriptorProto.encode !== 'function') {
    return 'FileDescriptorProto in protobufjs/ext/descriptor';
  }
  for (const syntax of ['proto2', 'proto3']) {
    let edition: string | undefined;
    try {
      const root = protobuf.parse(`syntax = "${syntax}"; package longlink.check; message M {}`, new protobuf.Root()).root;
      edition = editionOf(root.lookupType('longlink.check.M'));
    } catch {
      // a protobufjs that cannot parse this without it is as far from the shape
    }
    if (edition !== syntax) return 'the edition of parsed objects (ReflectionObject._edition)';
  }
  return undefined;
}

/** The `syntax`/`edition` of the file that defined `object` (protobufjs keeps it private). */
export function editionOf(object: Protobuf.ReflectionObject): string | undefined {
  const edition = (object as unknown as { _edition?: unknown })._edition;
  return typeof edition === 'string' ? edition : undefined;
}
