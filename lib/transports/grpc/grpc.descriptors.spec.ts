import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildFileDescriptorProtos, describeFiles, jsonName, mapEntryName } from './grpc.descriptors.js';
import { loadProtobuf } from '../../internals/protobufjs.js';

const at = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const libs = loadProtobuf();
const { FileDescriptorProto } = libs.descriptor;

/** A descriptor as protobufjs decodes it (no empty lists, numbers for enums), for comparing. */
function normalise(file: Record<string, unknown>): Record<string, unknown> {
  return FileDescriptorProto.toObject(FileDescriptorProto.decode(FileDescriptorProto.encode(FileDescriptorProto.fromObject(file)).finish()), {
    longs: Number,
  });
}

/**
 * What protoc 3.21 makes of the same files, file options and source info left out:
 *   protoc -I test/fixtures/protos -I proto --include_imports --descriptor_set_out=ref.pb \
 *     reflect/v1/everything.proto reflect/v1/legacy.proto longlink/v1/longlink.proto sample/v1/demo.proto
 * then FileDescriptorSet.toObject(decode(ref.pb), { longs: Number }) without `options`/`sourceCodeInfo`.
 * Regenerate it when a proto under test changes.
 */
const protoc = JSON.parse(readFileSync(at('test/fixtures/protos/protoc.json'), 'utf8')) as { file: { name: string }[] };
const expected = (name: string) => {
  const file = protoc.file.find((f) => f.name === name);
  if (!file) throw new Error(`${name} is not in protoc.json`);
  return file;
};

describe("reflection descriptors (grpc.descriptors.ts) equal protoc's", () => {
  it('the generic longlink.proto, loaded by absolute path: its import path, snake_case, json_name, struct.proto as a dependency', () => {
    const files = describeFiles(libs.protobuf, { paths: [at('proto/longlink/v1/longlink.proto')] }).map(normalise);
    expect(files.map((f) => f['name']).sort()).toEqual(['google/protobuf/struct.proto', 'longlink/v1/longlink.proto']);
    for (const file of files) expect(file).toEqual(expected(file['name'] as string));
  });

  it("the sample's demo.proto", () => {
    const files = describeFiles(libs.protobuf, { paths: [at('proto/sample/v1/demo.proto')] }).map(normalise);
    expect(files).toEqual([expected('sample/v1/demo.proto')]);
  });

  it('maps, nested types, enums, oneofs, proto3 optional, reserved ranges, well-known types, imports through includeDirs, proto2 defaults and extensions', () => {
    const files = describeFiles(libs.protobuf, {
      paths: ['reflect/v1/everything.proto', 'reflect/v1/legacy.proto'],
      includeDirs: [at('test/fixtures/protos')],
    }).map(normalise);
    expect(files.map((f) => f['name']).sort()).toEqual([
      'google/protobuf/struct.proto',
      'google/protobuf/timestamp.proto',
      'google/protobuf/wrappers.proto',
      'reflect/v1/common.proto',
      'reflect/v1/everything.proto',
      'reflect/v1/legacy.proto',
    ]);
    for (const file of files) expect(file).toEqual(expected(file['name'] as string));
  });

  it('encodes each file once, the first set winning a shared file', () => {
    const encoded = buildFileDescriptorProtos(libs, [
      { paths: [at('proto/longlink/v1/longlink.proto')] },
      { paths: ['reflect/v1/everything.proto'], includeDirs: [at('test/fixtures/protos')] },
    ]);
    const names = encoded.map((bytes) => (FileDescriptorProto.decode(bytes) as unknown as { name: string }).name);
    expect(names.filter((n) => n === 'google/protobuf/struct.proto')).toHaveLength(1);
    expect(names).toContain('reflect/v1/common.proto');
  });

  it('names as protoc does', () => {
    expect(jsonName('last_event_id')).toBe('lastEventId');
    expect(jsonName('x2y')).toBe('x2y');
    expect(jsonName('foo__bar_')).toBe('fooBar');
    expect(mapEntryName('tag_counts')).toBe('TagCountsEntry');
    expect(mapEntryName('fields')).toBe('FieldsEntry');
  });
});
