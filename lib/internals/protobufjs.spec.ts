import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { loadProtobuf, missingProtobufShape } from './protobufjs.js';
import { packageVersion } from './package-version.js';

/**
 * The protobufjs door on the real protobufjs that @grpc/proto-loader uses: the shape is
 * there; with the private `_edition` no longer kept on parsed objects (or a class the
 * descriptors use gone), the check names what is missing and loading fails naming the
 * installed version, instead of serving proto2 files as proto3.
 */
const loaderEntry = createRequire(import.meta.url).resolve('@grpc/proto-loader');
const protobuf = createRequire(loaderEntry)('protobufjs') as typeof Protobuf;
// Loaded before any mutation: the extension builds its types when first required.
createRequire(loaderEntry)('protobufjs/ext/descriptor');

/** Runs `run` while protobufjs drops every `_edition` it assigns. */
function withoutEdition<T>(run: () => T): T {
  const proto = protobuf.ReflectionObject.prototype as object;
  // protobufjs assigns `this._edition = ...`: an accessor on the prototype that drops it is
  // what a protobufjs keeping the edition elsewhere (or under another name) looks like.
  Object.defineProperty(proto, '_edition', { get: () => undefined, set: () => undefined, configurable: true });
  try {
    return run();
  } finally {
    delete (proto as { _edition?: unknown })._edition;
  }
}

describe('protobufjs door', () => {
  // First in the file: the door checks on its first successful load only.
  it('when parsed objects no longer keep _edition, loading fails naming the installed version', () => {
    withoutEdition(() =>
      expect(() => loadProtobuf()).toThrow(
        `LonglinkModule: protobufjs ${packageVersion('protobufjs', loaderEntry)} does not have the edition of parsed objects (ReflectionObject._edition), which the gRPC server reflection relies on (written for protobufjs 7.x (7.4 or later))`,
      ),
    );
  });

  it("the installed protobufjs is proto-loader's, with the shape the descriptors rely on", () => {
    const libs = loadProtobuf();
    expect(libs.protobuf).toBe(protobuf);
    expect(missingProtobufShape(loadProtobuf())).toBeUndefined();
    const root = libs.protobuf.parse('syntax = "proto2"; package p; message M { optional int32 a = 1; }', new libs.protobuf.Root()).root;
    expect((root.lookupType('p.M') as unknown as { _edition?: string })._edition).toBe('proto2');
  });

  it('the check names a missing _edition, and passes again once it is back', () => {
    expect(withoutEdition(() => missingProtobufShape(loadProtobuf()))).toBe('the edition of parsed objects (ReflectionObject._edition)');
    expect(missingProtobufShape(loadProtobuf())).toBeUndefined();
  });

  it('when a class the descriptors use is gone, the check names it', () => {
    const libs = loadProtobuf();
    const { MapField } = libs.protobuf;
    delete (libs.protobuf as { MapField?: unknown }).MapField;
    try {
      expect(missingProtobufShape(libs)).toBe('protobuf.MapField');
    } finally {
      (libs.protobuf as { MapField?: unknown }).MapField = MapField;
    }
  });

  it('the error names the protobufjs version proto-loader installed', () => {
    expect(packageVersion('protobufjs', loaderEntry)).toMatch(/^7\.\d+\.\d+$/);
  });
});
