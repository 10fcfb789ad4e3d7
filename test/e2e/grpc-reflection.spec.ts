import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { INestApplication } from '@nestjs/common';
import type { Type } from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { createHttpApp } from '../harness/sse.harness.js';
import { deferred, within } from '../harness/util.js';

/**
 * A client that behaves like grpcurl: it knows nothing of the server's protos and learns every
 * service, message and field from server reflection alone (v1 and v1alpha), then calls
 * methods with messages built from the returned descriptors.
 */
const require = createRequire(import.meta.url);
const descriptors = require('protobufjs/ext/descriptor') as { FileDescriptorProto: Type; FileDescriptorSet: Type };
const { FileDescriptorProto, FileDescriptorSet } = descriptors;

interface FieldDescriptor {
  name: string;
  number: number;
  label: number;
  type: number;
  typeName?: string;
  jsonName?: string;
}
interface MessageDescriptor {
  name: string;
  field?: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
  enumType?: { name: string }[];
  options?: { mapEntry?: boolean };
}
interface FileDescriptor {
  name: string;
  package?: string;
  dependency?: string[];
  messageType?: MessageDescriptor[];
  enumType?: { name: string }[];
  service?: {
    name: string;
    method: { name: string; inputType: string; outputType: string; clientStreaming?: boolean; serverStreaming?: boolean }[];
  }[];
}

/** The reflection protocol's own proto: compiled into grpcurl, here read from @grpc/reflection's package. */
const reflectionProto = (version: string) =>
  fileURLToPath(new URL(`../../node_modules/@grpc/reflection/build/proto/grpc/reflection/${version}/reflection.proto`, import.meta.url));

type ReflectionReply = {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
};

/** One `ServerReflectionInfo` stream, asked one question at a time. */
class ReflectionClient {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<object, ReflectionReply>;
  private readonly waiting: ((reply: ReflectionReply) => void)[] = [];

  constructor(version: 'v1' | 'v1alpha', port: number) {
    const def = protoLoader.loadSync(reflectionProto(version), { keepCase: false, longs: String, enums: String, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as never as {
      grpc: { reflection: Record<string, { ServerReflection: new (a: string, c: grpc.ChannelCredentials) => grpc.Client }> };
    };
    this.client = new pkg.grpc.reflection[version]!.ServerReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    this.call = (this.client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionReply> }).ServerReflectionInfo();
    this.call.on('data', (reply: ReflectionReply) => this.waiting.shift()?.(reply));
    this.call.on('error', () => undefined);
  }

  async ask(request: object): Promise<ReflectionReply> {
    const reply = deferred<ReflectionReply>();
    this.waiting.push(reply.resolve);
    this.call.write(request);
    return within(reply.promise, 5000, `reflection reply to ${JSON.stringify(request)}`);
  }

  async services(): Promise<string[]> {
    const reply = await this.ask({ listServices: '*' });
    return (reply.listServicesResponse?.service ?? []).map((s) => s.name);
  }

  /** `file_containing_symbol`, then `file_by_filename` for every dependency not yet seen, as grpcurl resolves a service. */
  async resolve(symbol: string): Promise<Map<string, FileDescriptor>> {
    const files = new Map<string, FileDescriptor>();
    const take = (reply: ReflectionReply, what: string) => {
      if (!reply.fileDescriptorResponse) throw new Error(`${what}: ${JSON.stringify(reply.errorResponse)}`);
      for (const bytes of reply.fileDescriptorResponse.fileDescriptorProto) {
        const file = FileDescriptorProto.toObject(FileDescriptorProto.decode(bytes), { longs: Number }) as FileDescriptor;
        if (!files.has(file.name)) files.set(file.name, file);
      }
    };
    take(await this.ask({ fileContainingSymbol: symbol }), symbol);
    for (let missing = pendingDependencies(files); missing.length > 0; missing = pendingDependencies(files)) {
      for (const name of missing) take(await this.ask({ fileByFilename: name }), name);
    }
    return files;
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}

function pendingDependencies(files: Map<string, FileDescriptor>): string[] {
  return [...new Set([...files.values()].flatMap((f) => f.dependency ?? []))].filter((d) => !files.has(d));
}

/**
 * Links the files as protoc / protobuf-go would: every type a file names must be declared in
 * the file itself or in a file it imports directly, and every map field must point to a nested
 * `<Field>Entry` with `map_entry`. Returns the files in dependency order.
 */
function link(files: Map<string, FileDescriptor>): FileDescriptor[] {
  const declared = new Map<string, Set<string>>();
  const collect = (prefix: string, messages: MessageDescriptor[] = [], enums: { name: string }[] = [], into: Set<string>) => {
    for (const e of enums) into.add(`${prefix}.${e.name}`);
    for (const m of messages) {
      into.add(`${prefix}.${m.name}`);
      collect(`${prefix}.${m.name}`, m.nestedType, m.enumType, into);
    }
  };
  for (const file of files.values()) {
    const names = new Set<string>();
    collect(file.package ? `.${file.package}` : '', file.messageType, file.enumType, names);
    declared.set(file.name, names);
  }
  const visible = (file: FileDescriptor, typeName: string) =>
    [file.name, ...(file.dependency ?? [])].some((name) => declared.get(name)?.has(typeName));
  const check = (file: FileDescriptor, prefix: string, messages: MessageDescriptor[] = []) => {
    for (const m of messages) {
      const full = `${prefix}.${m.name}`;
      for (const f of m.field ?? []) {
        if (f.typeName !== undefined) {
          expect(f.typeName, `${full}.${f.name} names its type fully qualified`).toMatch(/^\./);
          expect(visible(file, f.typeName), `${file.name}: ${full}.${f.name} cannot resolve ${f.typeName}`).toBe(true);
          const entry = m.nestedType?.find((n) => `${full}.${n.name}` === f.typeName);
          if (entry?.options?.mapEntry) expect(f.label).toBe(3);
        }
        expect(f.jsonName, `${full}.${f.name} has a json_name`).toBeDefined();
      }
      check(file, full, m.nestedType);
    }
    for (const s of file.service ?? []) {
      for (const method of s.method) {
        expect(visible(file, method.inputType), `${file.name}: ${s.name}.${method.name} cannot resolve ${method.inputType}`).toBe(true);
        expect(visible(file, method.outputType), `${file.name}: ${s.name}.${method.name} cannot resolve ${method.outputType}`).toBe(true);
      }
    }
  };
  for (const file of files.values()) check(file, file.package ? `.${file.package}` : '', file.messageType);
  const ordered: FileDescriptor[] = [];
  const place = (name: string) => {
    const file = files.get(name)!;
    if (ordered.includes(file)) return;
    for (const dep of file.dependency ?? []) place(dep);
    ordered.push(file);
  };
  for (const name of files.keys()) place(name);
  return ordered;
}

/** Finds a message descriptor by full name (`.pkg.Msg.Nested`) in reflected files. */
function findMessage(files: Map<string, FileDescriptor>, full: string): MessageDescriptor {
  for (const file of files.values()) {
    const search = (prefix: string, messages: MessageDescriptor[] = []): MessageDescriptor | undefined => {
      for (const m of messages) {
        if (`${prefix}.${m.name}` === full) return m;
        const inner = search(`${prefix}.${m.name}`, m.nestedType);
        if (inner) return inner;
      }
      return undefined;
    };
    const found = search(file.package ? `.${file.package}` : '', file.messageType);
    if (found) return found;
  }
  throw new Error(`${full} not in the reflected files`);
}

/** A `google.protobuf.Value` from JSON, with the field names reflection gave. */
function jsonToValue(value: unknown): object {
  if (value === null) return { null_value: 'NULL_VALUE' };
  if (typeof value === 'number') return { number_value: value };
  if (typeof value === 'string') return { string_value: value };
  if (typeof value === 'boolean') return { bool_value: value };
  if (Array.isArray(value)) return { list_value: { values: value.map(jsonToValue) } };
  return { struct_value: jsonToStruct(value as Record<string, unknown>) };
}

function jsonToStruct(object: Record<string, unknown>): object {
  return { fields: Object.entries(object).map(([key, value]) => ({ key, value: jsonToValue(value) })) };
}

/** grpcurl's `-d` JSON (proto3 JSON: json_name or field name, Struct as a JSON object) as a message, from descriptors only. */
function jsonToMessage(files: Map<string, FileDescriptor>, typeName: string, json: Record<string, unknown>): Record<string, unknown> {
  const message = findMessage(files, typeName);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = message.field?.find((f) => f.jsonName === key || f.name === key);
    if (!field) throw new Error(`${typeName} has no field ${key}`);
    if (field.typeName === '.google.protobuf.Struct') out[field.name] = jsonToStruct(value as Record<string, unknown>);
    else if (field.typeName !== undefined && field.type === 11)
      out[field.name] = jsonToMessage(files, field.typeName, value as Record<string, unknown>);
    else out[field.name] = value;
  }
  return out;
}

/** The `grpcurl` commands of a markdown file, continuation lines joined. */
function grpcurlCommands(markdown: string): { data?: Record<string, unknown>; target: string }[] {
  const text = markdown.replace(/\\\n\s*/g, ' ');
  return [...text.matchAll(/grpcurl -plaintext(?: -d '([^']*)')? 127\.0\.0\.1:50051 (\S+)/g)].map((m) => ({
    data: m[1] === undefined ? undefined : (JSON.parse(m[1]) as Record<string, unknown>),
    target: m[2]!,
  }));
}

/** A gRPC client package built from reflected descriptors only (proto-loader's descriptor-set loader). */
function clientPackage(files: FileDescriptor[]): Record<string, unknown> {
  const set = FileDescriptorSet.encode(FileDescriptorSet.fromObject({ file: files })).finish();
  const definition = protoLoader.loadFileDescriptorSetFromBuffer(Buffer.from(set), { longs: String, enums: String, defaults: false, oneofs: true });
  return grpc.loadPackageDefinition(definition);
}

function serviceClient(pkg: Record<string, unknown>, path: string, port: number): grpc.Client & Record<string, (...args: unknown[]) => unknown> {
  const Ctor = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], pkg) as new (
    a: string,
    c: grpc.ChannelCredentials,
  ) => grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

/** Runs one server-streaming call to its end. */
async function collect<T>(call: grpc.ClientReadableStream<T>): Promise<{ replies: T[]; status: grpc.StatusObject }> {
  const replies: T[] = [];
  const status = deferred<grpc.StatusObject>();
  call.on('data', (r: T) => replies.push(r));
  call.on('error', () => undefined);
  call.on('status', status.resolve);
  return { replies, status: await within(status.promise, 5000, 'call status') };
}

describe('gRPC server reflection serves real descriptors (a grpcurl-like client)', () => {
  let app: INestApplication;
  let port: number;
  beforeAll(async () => {
    process.env.GRPC_PORT = '0';
    ({ app } = await createHttpApp('express', AppModule));
    port = app.get(GrpcTransport).port;
  });
  afterAll(async () => {
    await app?.close();
  });

  describe.each(['v1', 'v1alpha'] as const)('grpc.reflection.%s', (version) => {
    let reflection: ReflectionClient;
    beforeAll(() => {
      reflection = new ReflectionClient(version, port);
    });
    afterAll(() => reflection.close());

    it('lists the served services, health and reflection', async () => {
      expect((await reflection.services()).sort()).toEqual([
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
        'longlink.v1.Streams',
        'sample.v1.Demo',
      ]);
    });

    it('longlink.v1.Streams: the real file, its import resolvable by name, snake_case fields, Struct.fields a map entry', async () => {
      const files = await reflection.resolve('longlink.v1.Streams');
      expect([...files.keys()].sort()).toEqual(['google/protobuf/struct.proto', 'longlink/v1/longlink.proto']);
      const own = files.get('longlink/v1/longlink.proto')!;
      expect(own.package).toBe('longlink.v1');
      expect(own.dependency).toEqual(['google/protobuf/struct.proto']);
      const request = own.messageType!.find((m) => m.name === 'SubscribeRequest')!;
      expect(request.field!.map((f) => [f.name, f.jsonName, f.typeName])).toEqual([
        ['stream', 'stream', undefined],
        ['params', 'params', '.google.protobuf.Struct'],
        ['last_event_id', 'lastEventId', undefined],
        ['channel', 'channel', undefined],
      ]);
      expect(own.service![0]!.method.map((m) => [m.name, m.inputType, m.outputType, m.clientStreaming ?? false, m.serverStreaming ?? false])).toEqual(
        [
          ['Subscribe', '.longlink.v1.SubscribeRequest', '.longlink.v1.Event', false, true],
          ['Channel', '.longlink.v1.ChannelRequest', '.longlink.v1.ChannelResponse', true, true],
        ],
      );
      const byName = await reflection.ask({ fileByFilename: 'google/protobuf/struct.proto' });
      const struct = FileDescriptorProto.toObject(
        FileDescriptorProto.decode(byName.fileDescriptorResponse!.fileDescriptorProto[0]!),
      ) as FileDescriptor;
      const message = struct.messageType!.find((m) => m.name === 'Struct')!;
      expect(message.field).toEqual([
        { name: 'fields', number: 1, label: 3, type: 11, typeName: '.google.protobuf.Struct.FieldsEntry', jsonName: 'fields' },
      ]);
      expect(message.nestedType).toEqual([
        {
          name: 'FieldsEntry',
          field: [
            { name: 'key', number: 1, label: 1, type: 9, jsonName: 'key' },
            { name: 'value', number: 2, label: 1, type: 11, typeName: '.google.protobuf.Value', jsonName: 'value' },
          ],
          options: { mapEntry: true },
        },
      ]);
      const value = struct.messageType!.find((m) => m.name === 'Value')!;
      expect(value.field!.map((f) => f.name)).toEqual(['null_value', 'number_value', 'string_value', 'bool_value', 'struct_value', 'list_value']);
    });

    it('calls longlink.v1.Streams/Subscribe with a request built from the reflected descriptors', async () => {
      const pkg = clientPackage(link(await reflection.resolve('longlink.v1.Streams')));
      const client = serviceClient(pkg, 'longlink.v1.Streams', port);
      try {
        // Field names as the descriptors have them: snake_case, Struct.fields a map (or its entries).
        const numberValue = (n: number) => ({ number_value: n });
        const params = { count: numberValue(4), intervalMs: numberValue(0) };
        const structType = (pkg['google'] as { protobuf: { Struct: { type: { field: { name: string; label: number }[] } } } }).protobuf.Struct;
        expect(structType.type.field[0]).toMatchObject({ name: 'fields', label: 'LABEL_REPEATED' });
        const call = client['Subscribe']!({
          stream: 'demo/counter',
          params: { fields: Object.entries(params).map(([key, value]) => ({ key, value })) },
          last_event_id: '1',
        }) as grpc.ClientReadableStream<{ id: string; data: Buffer; reset?: boolean }>;
        const { replies, status } = await collect(call);
        expect(status.code).toBe(grpc.status.OK);
        expect(replies.map((r) => ({ id: r.id, data: JSON.parse(r.data.toString('utf8')) as unknown }))).toEqual([
          { id: '2', data: { n: 2 } },
          { id: '3', data: { n: 3 } },
        ]);
      } finally {
        client.close();
      }
    });

    it('calls the typed sample.v1.Demo/Counter from reflection alone', async () => {
      const files = await reflection.resolve('sample.v1.Demo');
      expect([...files.keys()]).toEqual(['sample/v1/demo.proto']);
      const demo = files.get('sample/v1/demo.proto')!;
      expect(demo.service![0]!.method[0]).toMatchObject({
        name: 'Counter',
        inputType: '.sample.v1.CounterRequest',
        outputType: '.sample.v1.CounterReply',
        serverStreaming: true,
      });
      const pkg = clientPackage(link(files));
      const client = serviceClient(pkg, 'sample.v1.Demo', port);
      try {
        const call = client['Counter']!({ from: 3, count: 2, interval_ms: 0 }) as grpc.ClientReadableStream<{ n: number }>;
        const { replies, status } = await collect(call);
        expect(status.code).toBe(grpc.status.OK);
        expect(replies).toEqual([{ n: 3 }, { n: 4 }]);
      } finally {
        client.close();
      }
    });

    it('resolves the health service by symbol, and reports an unknown file as NOT_FOUND', async () => {
      const files = await reflection.resolve('grpc.health.v1.Health');
      expect([...files.keys()]).toEqual(['grpc/health/v1/health.proto']);
      link(files);
      const missing = await reflection.ask({ fileByFilename: 'longlink_v1.proto' });
      expect(missing.errorResponse?.errorCode).toBe(grpc.status.NOT_FOUND);
    });
  });
  it.each(['README.md', 'PROTOCOL.md'])('the grpcurl commands of %s work as written, through reflection alone', async (doc) => {
    const commands = grpcurlCommands(readFileSync(fileURLToPath(new URL(`../../${doc}`, import.meta.url)), 'utf8'));
    expect(commands.length).toBeGreaterThanOrEqual(3);
    const reflection = new ReflectionClient('v1', port);
    try {
      for (const { data, target } of commands) {
        if (target === 'list') {
          expect(await reflection.services()).toEqual(expect.arrayContaining(['longlink.v1.Streams', 'sample.v1.Demo', 'grpc.health.v1.Health']));
          continue;
        }
        const [service, method] = [target.slice(0, target.lastIndexOf('/')), target.slice(target.lastIndexOf('/') + 1)];
        const files = await reflection.resolve(service);
        const rpc = [...files.values()]
          .flatMap((f) => (f.service ?? []).map((s) => ({ s, full: `${f.package}.${s.name}` })))
          .find((x) => x.full === service)!
          .s.method.find((m) => m.name === method)!;
        const client = serviceClient(clientPackage(link(files)), service, port);
        try {
          const request = jsonToMessage(files, rpc.inputType, data ?? {});
          const { replies, status } = await collect(client[method]!(request) as grpc.ClientReadableStream<unknown>);
          if ((data as { stream?: string } | undefined)?.stream === 'demo/secure') {
            expect(status.code, target).toBe(grpc.status.UNAUTHENTICATED);
          } else {
            expect(status.code, `${target} ${JSON.stringify(data)}: ${status.details}`).toBe(grpc.status.OK);
            const count = (data as { count?: number; params?: { count?: number } }).count ?? (data as { params?: { count?: number } }).params?.count;
            expect(replies).toHaveLength(count!);
          }
        } finally {
          client.close();
        }
      }
    } finally {
      reflection.close();
    }
  });
});
