import { CodegenError } from './codegen-error.js';
import type { AppModel, Definitions, PropertyNode, TypeNode } from './type-model.js';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const PROTO_IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;

/** `intervalMs` → `interval_ms`, when proto-loader's camelCase brings it back; else the name as it is. */
function fieldName(name: string): string {
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const camel = snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return camel === name && PROTO_IDENTIFIER.test(snake) ? snake : name;
}

/** Writes messages for the object types that typed gRPC methods use. */
class ProtoMessages {
  readonly written = new Map<string, string>();

  constructor(
    private readonly definitions: Definitions,
    private readonly location: () => string,
  ) {}

  /** Writes the message of a definition (and those it refers to); returns its name. */
  message(name: string): string {
    if (this.written.has(name)) return name;
    const def = this.definitions.get(name);
    if (!def) throw new CodegenError(`${this.location()}: unknown type ${name}`);
    this.written.set(name, ''); // reserved first: a recursive type refers to itself
    this.written.set(name, this.body(name, def.properties, def.description));
    return name;
  }

  private body(name: string, properties: PropertyNode[], description: string | undefined): string {
    const fields = properties.map((p, i) => {
      if (!PROTO_IDENTIFIER.test(p.name)) throw new CodegenError(`${this.location()}: ${name}.${p.name} is not a valid protobuf field name`);
      const comment = p.description ? `  // ${p.description.split('\n').join(' ')}\n` : '';
      return `${comment}  ${this.field(p.type, `${name}${p.name[0]!.toUpperCase()}${p.name.slice(1)}`, `${name}.${p.name}`)} ${fieldName(p.name)} = ${i + 1};`;
    });
    const doc = description ? `// ${description.split('\n').join('\n// ')}\n` : '';
    return `${doc}message ${name} {\n${fields.join('\n')}${fields.length ? '\n' : ''}}`;
  }

  /** The field type (with `repeated` / `map<>`) of a property. */
  private field(node: TypeNode, inlineName: string, path: string): string {
    if (node.kind === 'array') return `repeated ${this.scalarOrMessage(node.items, `${inlineName}Item`, `${path}[]`)}`;
    if (node.kind === 'record') return `map<string, ${this.scalarOrMessage(node.values, `${inlineName}Value`, `${path}{}`)}>`;
    return this.scalarOrMessage(node, inlineName, path);
  }

  private scalarOrMessage(node: TypeNode, inlineName: string, path: string): string {
    switch (node.kind) {
      case 'string':
        return 'string';
      case 'boolean':
        return 'bool';
      case 'number':
        return 'double';
      case 'integer': {
        const { minimum, maximum } = node.constraints ?? {};
        return minimum !== undefined && maximum !== undefined && minimum >= INT32_MIN && maximum <= INT32_MAX ? 'int32' : 'double';
      }
      case 'literal':
        return typeof node.value === 'string' ? 'string' : typeof node.value === 'number' ? 'double' : 'bool';
      case 'enum':
        if (node.values.every((v) => typeof v === 'string')) return 'string';
        if (node.values.every((v) => typeof v === 'number')) return 'double';
        break;
      case 'ref':
        return this.message(node.name);
      case 'object':
        if (!this.written.has(inlineName)) {
          this.written.set(inlineName, '');
          this.written.set(inlineName, this.body(inlineName, node.properties, node.description));
        }
        return inlineName;
      case 'union': {
        // `T | null`: null is an absent field
        const members = node.members.filter((m) => m.kind !== 'null');
        if (members.length === 1 && members[0]!.kind !== 'array' && members[0]!.kind !== 'record') {
          return this.scalarOrMessage(members[0]!, inlineName, path);
        }
      }
    }
    // unknown, null, mixed unions, arrays of arrays: a JSON value the reply message cannot carry as it is
    throw new CodegenError(
      `${this.location()}: ${path} (${node.kind}) has no protobuf field type for a typed gRPC method: give it a concrete type ` +
        '(a string, number, boolean, object, array or record of one), or serve the stream on the generic longlink.v1.Streams service only',
    );
  }
}

/**
 * A `.proto` for the streams bound to typed gRPC methods (`@Stream(name, { grpc: { service,
 * method } })`): one server-streaming rpc each, its request message the params and its reply
 * message the event data, so `grpc.protoPath` can point at it instead of a hand-written file.
 * Fields follow the properties' order (reordering properties renumbers fields: a breaking
 * change for existing clients); names are snake_case (proto-loader's default camelCase gives
 * the TypeScript names back). `number` is `double`, an `@IsInt()` with `@Min`/`@Max` inside
 * 32 bits is `int32`, `T | null` is `T` (absent when null).
 *
 * @returns `undefined` when no stream has a typed gRPC binding.
 * @throws CodegenError when a bound stream's event data is not an object type, or a field has
 *   no protobuf type (`unknown`, a union of several kinds, an array of arrays): the reply
 *   message is encoded from the plain value, which such a field could not carry.
 */
export function writeProto(model: AppModel, protoPackage: string): string | undefined {
  const bound = model.streams.filter((s) => s.grpc && (!s.transports || s.transports.includes('grpc')));
  if (bound.length === 0) return undefined;
  let current = '';
  const messages = new ProtoMessages(model.definitions, () => current);
  const services = new Map<string, string[]>();
  for (const stream of bound) {
    current = stream.location;
    const { method } = stream.grpc!;
    const service = stream.grpc!.service.startsWith(`${protoPackage}.`) ? stream.grpc!.service.slice(protoPackage.length + 1) : stream.grpc!.service;
    if (!PROTO_IDENTIFIER.test(service) || !PROTO_IDENTIFIER.test(method)) {
      throw new CodegenError(`${stream.location}: gRPC service ${stream.grpc!.service} is not in package ${protoPackage} (see --proto-package)`);
    }
    if (stream.event.kind !== 'ref' || !model.definitions.has(stream.event.name)) {
      throw new CodegenError(
        `${stream.location}: a typed gRPC method needs object event data (a class, interface or object type), not ${stream.event.kind}`,
      );
    }
    const request = messages.message(stream.params.name);
    const reply = messages.message(stream.event.name);
    const rpcs = services.get(service) ?? [];
    rpcs.push(`  // ${stream.names.join(', ')}. Resume: metadata "last-event-id".\n  rpc ${method}(${request}) returns (stream ${reply});`);
    services.set(service, rpcs);
  }
  const out = [
    '// Generated by `nestjs-longlink generate`. Do not edit: change the server and generate again.',
    'syntax = "proto3";',
    '',
    `package ${protoPackage};`,
    '',
  ];
  for (const [service, rpcs] of [...services].sort(([a], [b]) => (a < b ? -1 : 1))) out.push(`service ${service} {\n${rpcs.join('\n\n')}\n}`, '');
  for (const [, text] of [...messages.written].sort(([a], [b]) => (a < b ? -1 : 1))) out.push(text, '');
  return out.join('\n');
}
