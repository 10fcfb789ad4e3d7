import { accessSync, constants, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import type * as Protobuf from 'protobufjs';
import { editionOf, type ProtobufLibraries } from '../../internals/protobufjs.js';

/**
 * The `FileDescriptorProto`s that server reflection serves, built as `protoc` builds them.
 *
 * Why hand-written: `@grpc/proto-loader` hands `@grpc/reflection` the output of protobufjs'
 * `Root#toDescriptor()`, which stock tools (grpcurl, Postman, Evans) cannot use: one file per
 * package named `longlink_v1.proto`, no `dependency` list although the file uses
 * `google.protobuf.Struct`, field names camelCased by the loader (`lastEventId`), no
 * `json_name`, relative type names, and map entries named after the field instead of
 * `<Field>Entry` (grpc/grpc-node#3018). No maintained library turns .proto files into protoc's
 * descriptors in Node without running protoc, so the files are parsed again here with
 * protobufjs (the parser proto-loader itself uses, with `keepCase`), and each descriptor is
 * written field by field following protoc's rules: one descriptor per .proto file, named by
 * its import path, `dependency` listing the files it imports, fully qualified type names,
 * snake_case names with `json_name`, map fields as `repeated <Field>Entry` with
 * `map_entry = true`, proto3 `optional` as synthetic oneofs after the real ones.
 * `@grpc/reflection` then serves these bytes as they are (v1 and v1alpha).
 *
 * Not reproduced: file-level options, custom options and source comments (protobufjs does not
 * keep them per file); none of them is needed to call a method.
 */

export type { ProtobufLibraries };

/** A set of .proto files loaded together, as `@grpc/proto-loader` would load them. */
export interface ProtoFiles {
  paths: string[];
  /** proto-loader's `includeDirs`: where imports are looked up. */
  includeDirs?: string[];
}

/** `FieldDescriptorProto.Type` of the scalar types. */
const SCALAR_TYPES: Readonly<Record<string, number>> = {
  double: 1,
  float: 2,
  int64: 3,
  uint64: 4,
  int32: 5,
  fixed64: 6,
  fixed32: 7,
  bool: 8,
  string: 9,
  bytes: 12,
  uint32: 13,
  sfixed32: 15,
  sfixed64: 16,
  sint32: 17,
  sint64: 18,
};
const TYPE_GROUP = 10;
const TYPE_MESSAGE = 11;
const TYPE_ENUM = 14;
const LABEL_OPTIONAL = 1;
const LABEL_REQUIRED = 2;
const LABEL_REPEATED = 3;
/** protobufjs writes `max` in a reserved or extension range as this (inclusive) field number. */
const MAX_FIELD_NUMBER = 0x1fffffff;

type Descriptor = Record<string, unknown>;

/**
 * Builds one encoded `FileDescriptorProto` per .proto file of every set (imports included),
 * deduplicated by file name (the first set that has a file wins).
 */
export function buildFileDescriptorProtos(libs: ProtobufLibraries, sets: ProtoFiles[]): Uint8Array[] {
  const files = new Map<string, Descriptor>();
  for (const set of sets) {
    for (const file of describeFiles(libs.protobuf, set)) {
      if (!files.has(file['name'] as string)) files.set(file['name'] as string, file);
    }
  }
  const type = libs.descriptor.FileDescriptorProto;
  return [...files.values()].map((file) => type.encode(type.fromObject(file)).finish());
}

/** The descriptors (plain objects in protobufjs' descriptor shape) of one set of files. */
export function describeFiles(protobuf: typeof Protobuf, set: ProtoFiles): Descriptor[] {
  const loaded = load(protobuf, set);
  const bundled = bundledFiles(protobuf);
  const fileOf = (object: Protobuf.ReflectionObject): string | undefined => object.filename ?? bundled.get(object.fullName);

  // Top-level declarations, grouped by the file that declares them.
  interface FileParts {
    package: string;
    edition: string | undefined;
    messages: Protobuf.Type[];
    enums: Protobuf.Enum[];
    services: Protobuf.Service[];
    extensions: Protobuf.Field[];
  }
  const parts = new Map<string, FileParts>();
  const visit = (ns: Protobuf.NamespaceBase): void => {
    for (const object of ns.nestedArray) {
      const isNamespace = object instanceof protobuf.Namespace;
      if (isNamespace && !(object instanceof protobuf.Type) && !(object instanceof protobuf.Service)) {
        visit(object);
        continue;
      }
      const file = fileOf(object);
      if (file === undefined) continue;
      let part = parts.get(file);
      if (!part) {
        const edition = editionOf(object);
        part = { package: ns.fullName.slice(1), edition, messages: [], enums: [], services: [], extensions: [] };
        parts.set(file, part);
      }
      if (object instanceof protobuf.Type) part.messages.push(object);
      else if (object instanceof protobuf.Service) part.services.push(object);
      else if (object instanceof protobuf.Enum) part.enums.push(object);
      else if (object instanceof protobuf.Field) part.extensions.push(object);
    }
  };
  visit(loaded.root);

  const names = new Map<string, string>();
  for (const [file, part] of parts) names.set(file, canonicalName(file, part.package, loaded, set.includeDirs ?? []));
  const seen = new Map<string, string>();
  for (const [file, name] of names) {
    const other = seen.get(name);
    if (other !== undefined) {
      throw new Error(
        `LonglinkModule: gRPC reflection would serve both ${other} and ${file} as "${name}"; ` +
          'set grpc.loader.includeDirs so that every .proto file has its own import path, or turn grpc.reflection off',
      );
    }
    seen.set(name, file);
  }

  const out: Descriptor[] = [];
  for (const [file, part] of parts) {
    const name = names.get(file)!;
    const builder = new FileBuilder(protobuf, name);
    const descriptor: Descriptor = {
      name,
      package: part.package || undefined,
      messageType: part.messages.map((t) => builder.message(t)),
      enumType: part.enums.map((e) => builder.enumeration(e)),
      service: part.services.map((s) => builder.service(s)),
      extension: part.extensions.map((f) => builder.field(f)),
    };
    // Imports as the file wrote them, then any file it uses that protobufjs resolved
    // without an import record (the well-known types bundled with protobufjs).
    const dependency: string[] = [];
    const add = (dep: string | undefined): void => {
      const depName = dep === undefined ? undefined : names.get(dep);
      if (depName !== undefined && depName !== name && !dependency.includes(depName)) dependency.push(depName);
    };
    for (const imported of loaded.imports.get(file) ?? []) add(imported);
    for (const used of builder.uses) add(fileOf(used));
    descriptor['dependency'] = dependency;
    const syntax = syntaxOf(file, part.edition);
    if (syntax) Object.assign(descriptor, syntax);
    out.push(descriptor);
  }
  return out;
}

interface Loaded {
  root: Protobuf.Root;
  /** Resolved file → the path another file imported it by. */
  importedAs: Map<string, string>;
  /** Resolved file → the files it imports (resolved), in the order it imports them. */
  imports: Map<string, string[]>;
}

/** Loads a set with protobufjs as proto-loader does (includeDirs first), keeping original names and recording imports. */
function load(protobuf: typeof Protobuf, set: ProtoFiles): Loaded {
  const root = new protobuf.Root();
  const includeDirs = set.includeDirs ?? [];
  const loaded: Loaded = { root, importedAs: new Map(), imports: new Map() };
  const resolvedImports = new Map<string, string>();
  const fallback = root.resolvePath.bind(root);
  root.resolvePath = (origin: string, target: string): string | null => {
    const resolved = isAbsolute(target) ? target : (includeDirs.map((dir) => join(dir, target)).find(readable) ?? fallback(origin, target));
    if (resolved === null) return resolved;
    if (origin) {
      if (!loaded.importedAs.has(resolved)) loaded.importedAs.set(resolved, target);
      resolvedImports.set(`${origin}\0${target}`, resolved);
    }
    return resolved;
  };
  root.loadSync(set.paths, { keepCase: true });
  root.resolveAll();
  // protobufjs keeps no per-file import list, and resolves the well-known types without
  // asking resolvePath: read each file's imports again, in the order it wrote them.
  for (const file of root.files) {
    if (bundledName(protobuf, file) !== undefined) continue;
    const parsed = protobuf.parse(readFileSync(file, 'utf8'), new protobuf.Root(), { keepCase: true });
    const targets = [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])];
    loaded.imports.set(
      file,
      targets.map((target) => bundledName(protobuf, target) ?? resolvedImports.get(`${file}\0${target}`) ?? target),
    );
  }
  return loaded;
}

/** The well-known file protobufjs serves from its bundle for an import path (its own rule), if any. */
function bundledName(protobuf: typeof Protobuf, path: string): string | undefined {
  const at = path.lastIndexOf('google/protobuf/');
  const name = at < 0 ? undefined : path.slice(at);
  return name !== undefined && Object.hasOwn(protobuf.common, name) ? name : undefined;
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The well-known types protobufjs bundles (as JSON, so their objects carry no file name):
 * full name → `google/protobuf/<file>.proto`.
 */
function bundledFiles(protobuf: typeof Protobuf): Map<string, string> {
  const byName = new Map<string, string>();
  for (const [file, json] of Object.entries(protobuf.common as unknown as Record<string, unknown>)) {
    if (!file.endsWith('.proto')) continue;
    const nested = (json as { nested?: { google?: { nested?: { protobuf?: { nested?: object } } } } }).nested?.google?.nested?.protobuf?.nested;
    for (const name of Object.keys(nested ?? {})) byName.set(`.google.protobuf.${name}`, file);
  }
  return byName;
}

/**
 * The name a file is served under, as protoc would have it: the path an importing file used;
 * else its path inside one of the include dirs; else its package's folders and its base name
 * (`sample/v1/demo.proto` for package `sample.v1`: the usual layout, and the name the file
 * has upstream for grpc-health-check's `grpc/health/v1/health.proto`); else its base name.
 */
function canonicalName(file: string, pkg: string, loaded: Loaded, includeDirs: string[]): string {
  if (!isAbsolute(file) && file.startsWith('google/protobuf/')) return file;
  const imported = loaded.importedAs.get(file);
  if (imported !== undefined && !isAbsolute(imported)) return toPosix(imported);
  for (const dir of includeDirs) {
    const inside = relative(dir, file);
    if (inside && !inside.startsWith('..') && !isAbsolute(inside)) return toPosix(inside);
  }
  return pkg ? `${pkg.replace(/\./g, '/')}/${basename(file)}` : basename(file);
}

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

/** `syntax` (and `edition`) as protoc writes them: nothing for proto2. */
function syntaxOf(file: string, edition: string | undefined): Descriptor | undefined {
  // protobufjs does not record the syntax of its bundled JSON; only descriptor.proto is proto2.
  if (edition === undefined) edition = file === 'google/protobuf/descriptor.proto' ? 'proto2' : 'proto3';
  if (edition === 'proto2') return undefined;
  if (edition === 'proto3') return { syntax: 'proto3' };
  return { syntax: 'editions', edition: edition === '2023' ? 1000 : undefined };
}

/** protoc's `ToJsonName`: drop each `_` and upper-case the letter after it. */
export function jsonName(name: string): string {
  return camel(name, false);
}

/** protoc's map entry name: `tag_counts` → `TagCountsEntry`. */
export function mapEntryName(field: string): string {
  return `${camel(field, true)}Entry`;
}

function camel(name: string, upperFirst: boolean): string {
  let out = '';
  let upper = upperFirst;
  for (const c of name) {
    if (c === '_') upper = true;
    else {
      out += upper ? c.toUpperCase() : c;
      upper = false;
    }
  }
  return out;
}

/** Builds the descriptors of one file's declarations. */
class FileBuilder {
  /** Messages and enums the file's declarations refer to (their files are its dependencies). */
  readonly uses = new Set<Protobuf.ReflectionObject>();
  /** Whether the file's objects come from protobufjs' bundled JSON (camelCased field names). */
  private readonly bundled: boolean;

  constructor(
    private readonly protobuf: typeof Protobuf,
    fileName: string,
  ) {
    this.bundled = fileName.startsWith('google/protobuf/');
  }

  message(type: Protobuf.Type): Descriptor {
    const nestedType: Descriptor[] = [];
    const enumType: Descriptor[] = [];
    const extension: Descriptor[] = [];
    // Real oneofs first, then proto3 `optional`'s synthetic ones, as protoc orders them.
    const oneofs = [...type.oneofsArray.filter((o) => !isSynthetic(o)), ...type.oneofsArray.filter(isSynthetic)];
    const field: Descriptor[] = [];
    for (const f of type.fieldsArray) {
      if (f.declaringField) continue; // an extension declared elsewhere
      const descriptor = this.field(f, oneofs);
      if (f instanceof this.protobuf.MapField) {
        const entry = mapEntryName(descriptor['name'] as string);
        descriptor['typeName'] = `${type.fullName}.${entry}`;
        nestedType.push({
          name: entry,
          field: [
            { name: 'key', number: 1, label: LABEL_OPTIONAL, type: SCALAR_TYPES[f.keyType], jsonName: 'key' },
            { name: 'value', number: 2, label: LABEL_OPTIONAL, ...this.typeOf(f), jsonName: 'value' },
          ],
          options: { mapEntry: true },
        });
      }
      field.push(descriptor);
    }
    for (const nested of type.nestedArray) {
      if (nested instanceof this.protobuf.Type) nestedType.push(this.message(nested));
      else if (nested instanceof this.protobuf.Enum) enumType.push(this.enumeration(nested));
      else if (nested instanceof this.protobuf.Field) extension.push(this.field(nested));
    }
    const reservedRange: Descriptor[] = [];
    const reservedName: string[] = [];
    for (const r of type.reserved ?? []) {
      if (typeof r === 'string') reservedName.push(r);
      else reservedRange.push({ start: r[0], end: exclusiveEnd(r[1]!) });
    }
    return {
      name: type.name,
      field,
      nestedType,
      enumType,
      extension,
      oneofDecl: oneofs.map((o) => ({ name: o.name })),
      extensionRange: (type.extensions ?? []).map((r) => ({ start: r[0], end: exclusiveEnd(r[1]!) })),
      reservedRange,
      reservedName,
      options: pick(type.options, { deprecated: 'deprecated' }),
    };
  }

  field(f: Protobuf.Field, oneofs: Protobuf.OneOf[] = []): Descriptor {
    f.resolve();
    const name = this.bundled ? snakeCase(f.name) : f.name;
    const options = f.options ?? {};
    const descriptor: Descriptor = {
      name,
      number: f.id,
      label: f instanceof this.protobuf.MapField || f.repeated ? LABEL_REPEATED : f.required ? LABEL_REQUIRED : LABEL_OPTIONAL,
      ...(f instanceof this.protobuf.MapField ? { type: TYPE_MESSAGE } : this.typeOf(f)),
      jsonName: typeof options['json_name'] === 'string' ? options['json_name'] : jsonName(name),
    };
    if (f.extend !== undefined) {
      const extendee = f.extensionField?.parent;
      descriptor['extendee'] = extendee ? extendee.fullName : f.extend;
    }
    if (options['default'] !== undefined) descriptor['defaultValue'] = String(options['default']);
    if (f.partOf) descriptor['oneofIndex'] = oneofs.indexOf(f.partOf);
    if (options['proto3_optional']) descriptor['proto3Optional'] = true;
    const fieldOptions = pick(options, { packed: 'packed', deprecated: 'deprecated', lazy: 'lazy', jstype: 'jstype' });
    if (fieldOptions) descriptor['options'] = fieldOptions;
    return descriptor;
  }

  enumeration(e: Protobuf.Enum): Descriptor {
    const reservedRange: Descriptor[] = [];
    const reservedName: string[] = [];
    for (const r of e.reserved ?? []) {
      if (typeof r === 'string') reservedName.push(r);
      else reservedRange.push({ start: r[0], end: r[1] }); // EnumReservedRange: end inclusive
    }
    return {
      name: e.name,
      value: Object.entries(e.values).map(([name, number]) => ({
        name,
        number,
        options: pick(e.valuesOptions?.[name], { deprecated: 'deprecated' }),
      })),
      reservedRange,
      reservedName,
      options: pick(e.options, { allow_alias: 'allowAlias', deprecated: 'deprecated' }),
    };
  }

  service(s: Protobuf.Service): Descriptor {
    return {
      name: s.name,
      method: s.methodsArray.map((m) => {
        m.resolve();
        this.uses.add(m.resolvedRequestType!);
        this.uses.add(m.resolvedResponseType!);
        return {
          name: m.name,
          inputType: m.resolvedRequestType!.fullName,
          outputType: m.resolvedResponseType!.fullName,
          ...(m.requestStream ? { clientStreaming: true } : {}),
          ...(m.responseStream ? { serverStreaming: true } : {}),
          options: pick(m.options, { deprecated: 'deprecated', idempotency_level: 'idempotencyLevel' }),
        };
      }),
      options: pick(s.options, { deprecated: 'deprecated' }),
    };
  }

  /** `type` and, for messages and enums, the fully qualified `typeName` (for a map field: of its values). */
  private typeOf(f: Protobuf.Field): Descriptor {
    const resolved = f.resolvedType;
    if (resolved instanceof this.protobuf.Type || resolved instanceof this.protobuf.Enum) {
      this.uses.add(resolved);
      const type = resolved instanceof this.protobuf.Enum ? TYPE_ENUM : f.delimited ? TYPE_GROUP : TYPE_MESSAGE;
      return { type, typeName: resolved.fullName };
    }
    const scalar = SCALAR_TYPES[f.type];
    if (scalar === undefined) throw new Error(`LonglinkModule: cannot describe field ${f.fullName} of type ${f.type}`);
    return { type: scalar };
  }
}

function isSynthetic(oneof: Protobuf.OneOf): boolean {
  return oneof.fieldsArray.length === 1 && !!oneof.fieldsArray[0]!.options?.['proto3_optional'];
}

/** Descriptor ranges end after their last number; protobufjs keeps the last number. */
function exclusiveEnd(last: number): number {
  return (last >= MAX_FIELD_NUMBER ? MAX_FIELD_NUMBER : last) + 1;
}

/**
 * The bundled well-known types carry camelCased field names (`nullValue`); Google's files
 * name every field in lower snake case (`null_value`), so the original is recovered exactly.
 */
function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The options a descriptor keeps, renamed to descriptor.proto's field names; `undefined` when none is set. */
function pick(options: Record<string, unknown> | undefined, names: Record<string, string>): Descriptor | undefined {
  if (!options) return undefined;
  const out: Descriptor = {};
  for (const [from, to] of Object.entries(names)) if (options[from] !== undefined) out[to] = options[from];
  return Object.keys(out).length > 0 ? out : undefined;
}
