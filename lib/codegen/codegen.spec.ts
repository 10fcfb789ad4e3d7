import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Module, VersioningType } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import * as ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, LonglinkModule } from '../index.js';
import { StreamRegistry } from '../core/stream-registry.js';
import {
  DuplexController,
  FixtureController,
  InheritingController,
  VersionedController,
} from '../../test/fixtures/codegen/codegen-fixture.controller.js';
import { runCommand } from './codegen.command.js';
import { ASYNCAPI_FILE, CLIENT_FILE, PROTO_FILE, readApp, writeFiles, type GenerateOptions } from './generate.js';
import { writeProto } from './proto.writer.js';
import type { AppModel, StreamModel } from './type-model.js';

const LOADER = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true };
const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const OPTIONS: GenerateOptions = {
  project: root('tsconfig.json'),
  include: [root('test/fixtures/codegen')],
  clientImport: root('lib/client/index.js'),
  protoPackage: 'fixture.v1',
  title: 'fixture',
};

describe('nestjs-longlink generate (lib/codegen)', () => {
  let model: AppModel;
  let files: Map<string, string>;
  const stream = (name: string): StreamModel => model.streams.find((s) => s.names.includes(name))!;

  beforeAll(() => {
    model = readApp(OPTIONS);
    files = writeFiles(model, OPTIONS);
  }, 120_000);

  it('finds every stream under the full names the server registers (paths, versions, contracts)', async () => {
    @Module({ imports: [LonglinkModule.forRoot({})], controllers: [FixtureController, InheritingController, VersionedController, DuplexController] })
    class FixtureModule {}
    const app = await NestFactory.create(FixtureModule, { logger: false });
    app.enableVersioning({ type: VersioningType.URI });
    try {
      await app.init();
      const registered = app
        .get(StreamRegistry)
        .all()
        .map((d) => d.name)
        .sort();
      expect(model.streams.flatMap((s) => s.names).sort()).toEqual(registered);
      expect(registered).toEqual(
        [
          'duplex/count',
          'duplex/echo',
          'duplex/loose',
          'duplex/nothing',
          'duplex/room',
          'fixture/hits',
          'fixture/later',
          'fixture/letters',
          'fixture/ping',
          'fixture/search',
          'inherits/inferred',
          'inherits/overridden',
          'v1/versioned/items',
          'v2/versioned/items',
          'versioned/plain',
        ].sort(),
      );
    } finally {
      await app.close();
    }
  });

  it('reads the options: transports, SSE method, gRPC binding, guards, docs', () => {
    const search = stream('fixture/search');
    expect(search).toMatchObject({ transports: ['sse', 'ws'], sseMethod: 'POST', guards: ['TokenGuard'], description: 'Searches, hit by hit.' });
    expect(search.grpc).toBeUndefined();
    expect(stream('fixture/ping')).toMatchObject({ sseMethod: 'GET', guards: [], grpc: { service: 'Fixture', method: 'Ping' } });
    expect(stream('fixture/ping').transports).toBeUndefined();
  });

  it('reads params from @StreamParams() (class-validator rules included) and event data from the result type', () => {
    expect(stream('fixture/search').params).toEqual({ kind: 'ref', name: 'SearchParams' });
    expect(model.definitions.get('SearchParams')!.properties).toEqual([
      { name: 'query', optional: false, type: { kind: 'string', constraints: { minLength: 1, maxLength: 100 } }, description: 'What to look for.' },
      { name: 'limit', optional: true, type: { kind: 'integer', constraints: { minimum: 1, maximum: 50 } } },
      { name: 'order', optional: true, type: { kind: 'enum', values: ['asc', 'desc'] } },
      { name: 'filters', optional: true, type: { kind: 'array', items: { kind: 'ref', name: 'Filter' } } },
      { name: 'level', optional: true, type: { kind: 'enum', values: ['low', 'high'] } },
    ]);
    // StreamEvent<SearchHit> unwrapped; Date, arrays, records, unknown, recursion and null
    expect(stream('fixture/search').event).toEqual({ kind: 'ref', name: 'SearchHit' });
    const hit = Object.fromEntries(model.definitions.get('SearchHit')!.properties.map((p) => [p.name, p.type]));
    expect(hit).toEqual({
      id: { kind: 'string' },
      score: { kind: 'number' },
      at: { kind: 'string', constraints: { format: 'date-time' } },
      points: { kind: 'array', items: { kind: 'ref', name: 'Point' } },
      tags: { kind: 'record', values: { kind: 'string' } },
      level: { kind: 'enum', values: ['low', 'high'] },
      meta: { kind: 'unknown' },
      parent: { kind: 'union', members: [{ kind: 'null' }, { kind: 'ref', name: 'SearchHit' }] },
    });
    expect(model.definitions.get('Point')).toMatchObject({ description: 'A point on the map.' });
    // a contract's types; an inline params type gets the stream's name
    expect(stream('fixture/ping').params).toEqual({ kind: 'ref', name: 'FixturePingParams' });
    expect(model.definitions.get('FixturePingEvent')!.properties).toEqual([{ name: 'pong', optional: false, type: { kind: 'number' } }]);
    // AsyncGenerator<string>; Promise<Observable<StreamEvent<T> | T>>
    expect(stream('fixture/letters').event).toEqual({ kind: 'string' });
    expect(model.definitions.get('FixtureLaterEvent')!.properties).toEqual([
      { name: 'done', optional: false, type: { kind: 'literal', value: true } },
    ]);
    expect(model.definitions.get('FixtureLaterParams')!.properties).toEqual([{ name: 'delayMs', optional: false, type: { kind: 'number' } }]);
    // an inferred result type; inherited handlers, the override winning
    expect(stream('inherits/inferred')).toMatchObject({ transports: ['ws'], event: { kind: 'ref', name: 'InheritsInferredEvent' } });
    expect(model.definitions.get('InheritsInferredEvent')!.properties.map((p) => [p.name, p.type])).toEqual([
      ['ok', { kind: 'boolean' }],
      ['at', { kind: 'string', constraints: { format: 'date-time' } }],
    ]);
    expect(stream('inherits/overridden').event).toEqual({ kind: 'string' });
  });

  it("reads a two-way stream's client message: @StreamInput()'s type (Observable and StreamInputMessage unwrapped), its { type } class, the contract", () => {
    expect(stream('duplex/room').input).toEqual({ kind: 'ref', name: 'RoomInput' });
    expect(model.definitions.get('RoomInput')!.properties).toEqual([
      { name: 'text', optional: false, type: { kind: 'string', constraints: { minLength: 1, maxLength: 200 } } },
      { name: 'typing', optional: true, type: { kind: 'boolean' } },
    ]);
    expect(stream('duplex/echo').input).toEqual({ kind: 'string' });
    expect(stream('duplex/loose').input).toEqual({ kind: 'ref', name: 'RoomInput' });
    expect(stream('duplex/count').input).toEqual({ kind: 'ref', name: 'DuplexCountInput' });
    expect(model.definitions.get('DuplexCountInput')!.properties).toEqual([{ name: 'add', optional: false, type: { kind: 'number' } }]);
    expect(stream('duplex/nothing').input).toEqual({ kind: 'unknown' });
    expect(stream('fixture/search').input).toBeUndefined();
    const client = files.get(CLIENT_FILE)!;
    expect(client).toContain('export const duplexRoom = defineStream<DuplexRoomParams, DuplexRoomEvent, RoomInput>("duplex/room");');
    expect(client).toContain('"duplex/echo": { params: DuplexEchoParams; event: string; input: string };');
    expect(client).toContain('"fixture/letters": { params: FixtureLettersParams; event: string };');
    const doc = JSON.parse(files.get(ASYNCAPI_FILE)!) as Record<string, Record<string, Record<string, unknown>>>;
    expect(doc.components!.messages!.DuplexRoomInput).toMatchObject({ payload: { $ref: '#/components/schemas/RoomInput' } });
    expect(doc.channels!.duplexRoom!.messages).toMatchObject({ input: { $ref: '#/components/messages/DuplexRoomInput' } });
    expect(doc.channels!.duplexRoom!['x-longlink']).toMatchObject({
      input: { sse: { method: 'POST', route: '/longlink/input/{channel}' }, ws: { type: 'input' }, grpc: { method: 'longlink.v1.Streams/Channel' } },
    });
    expect(doc.operations!.receiveDuplexRoomInput).toMatchObject({ action: 'receive', messages: [{ $ref: '#/channels/duplexRoom/messages/input' }] });
    expect(doc.operations!.receiveFixtureSearchInput).toBeUndefined();
    expect(doc.channels!.fixtureSearch!.messages).not.toHaveProperty('input');
  });

  it('writes a client file that compiles and types calls by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'longlink-codegen-'));
    try {
      writeFileSync(join(dir, CLIENT_FILE), files.get(CLIENT_FILE)!);
      const use = [
        `import { createClient } from ${JSON.stringify(root('lib/client/index.js'))};`,
        "import { duplexCount, fixturePing, type Streams } from './streams.client.js';",
        'const client = createClient<Streams>();',
        "client.stream('fixture/search', { query: 'x', order: 'asc', filters: [{ tag: 't' }] }).subscribe((hit) => hit.points[0]?.x.toFixed());",
        "client.stream('v2/versioned/items').subscribe(({ id }) => id.toFixed());",
        'client.stream(fixturePing, { times: 2 }).subscribe(({ pong }) => pong.toFixed());',
        "client.stream('fixture/search', { query: 'x', order: 'up' });", // error 1: not in the enum
        "client.stream('fixture/nope');", // error 2: unknown name
        "void client.channel('duplex/room').send({ text: 'hi', typing: true });",
        "client.channel('duplex/room').subscribe(({ text }) => text.trim());",
        "void client.channel('duplex/room').send({ typing: true });", // error 3: text is required
        'void client.channel(duplexCount).send({ add: 1 });',
        "void client.channel(duplexCount).send({ add: 'one' });", // error 4: add is a number
      ].join('\n');
      writeFileSync(join(dir, 'use.ts'), `${use}\n`);
      const config = ts.parseJsonConfigFileContent(
        ts.readConfigFile(root('tsconfig.json'), (path) => ts.sys.readFile(path)).config,
        ts.sys,
        root(''),
      );
      const program = ts.createProgram([join(dir, 'use.ts')], { ...config.options, noEmit: true, rootDir: undefined });
      const errors = ts
        .getPreEmitDiagnostics(program)
        .map(
          (d) =>
            `${d.file?.fileName.endsWith('use.ts') ? 'use' : d.file?.fileName}:${d.file ? d.file.getLineAndCharacterOfPosition(d.start!).line + 1 : 0}`,
        );
      expect(errors).toEqual(['use:7', 'use:8', 'use:11', 'use:13']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('writes an AsyncAPI 3.0 document that @asyncapi/parser accepts, with a channel per stream and its bindings', async () => {
    const doc = JSON.parse(files.get(ASYNCAPI_FILE)!) as Record<'channels' | 'operations' | 'components', Record<string, Record<string, unknown>>>;
    const { document, diagnostics } = await new Parser().parse(files.get(ASYNCAPI_FILE)!);
    expect(diagnostics.filter((d) => Number(d.severity) === Number(DiagnosticSeverity.Error))).toEqual([]);
    expect(
      document!
        .channels()
        .all()
        .map((c) => c.address())
        .sort(),
    ).toEqual(model.streams.flatMap((s) => s.names).sort());
    expect(doc.channels.fixtureSearch).toMatchObject({
      address: 'fixture/search',
      servers: [{ $ref: '#/servers/sse' }, { $ref: '#/servers/ws' }],
      'x-longlink': {
        transports: ['sse', 'ws'],
        sse: { method: 'POST', route: '/fixture/search', params: 'body' },
        ws: { stream: 'fixture/search' },
      },
    });
    expect(doc.channels.fixturePing!['x-longlink']).toMatchObject({
      grpc: { generic: { method: 'longlink.v1.Streams/Subscribe', stream: 'fixture/ping' }, typed: { service: 'Fixture', method: 'Ping' } },
    });
    // guarded streams require the guard's scheme; others none
    expect(doc.operations.subscribeFixtureSearch!.security).toEqual([{ $ref: '#/components/securitySchemes/TokenGuard' }]);
    expect(doc.operations.subscribeFixturePing!.security).toBeUndefined();
    expect(doc.components.securitySchemes!.TokenGuard).toMatchObject({ type: 'httpApiKey', in: 'header' });
    expect(doc.components.schemas!.SearchParams).toEqual({
      type: 'object',
      description: 'Params of fixture/search.',
      properties: {
        query: { type: 'string', minLength: 1, maxLength: 100, description: 'What to look for.' },
        limit: { type: 'integer', minimum: 1, maximum: 50 },
        order: { enum: ['asc', 'desc'] },
        filters: { type: 'array', items: { $ref: '#/components/schemas/Filter' } },
        level: { enum: ['low', 'high'] },
      },
      required: ['query'],
    });
    expect(document!.operations().get('subscribeFixturePing')!.bindings().get('http')!.value()).toMatchObject({ method: 'GET' });
  });

  it('writes a .proto of the typed gRPC bindings that serves them: params in, nested replies out', async () => {
    const proto = files.get(PROTO_FILE)!;
    expect(proto).toContain('package fixture.v1;');
    expect(proto).toContain('rpc Ping(FixturePingParams) returns (stream FixturePingEvent);');
    expect(proto).toContain('rpc Hits(SearchParams) returns (stream Hit);');
    expect(proto).toContain('map<string, string> tags = 4;');
    expect(proto).toContain('int32 limit = 2;');
    const dir = mkdtempSync(join(tmpdir(), 'longlink-codegen-'));
    const protoPath = join(dir, PROTO_FILE);
    writeFileSync(protoPath, proto);
    @Module({
      imports: [LonglinkModule.forRoot({ grpc: { url: '127.0.0.1:0', protoPath, package: 'fixture.v1' } })],
      controllers: [FixtureController],
    })
    class GrpcFixtureModule {}
    const app = await NestFactory.create(GrpcFixtureModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    const loaded = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, LOADER)) as never as {
      fixture: {
        v1: { Fixture: new (a: string, c: grpc.ChannelCredentials) => grpc.Client & { Hits(req: object): grpc.ClientReadableStream<object> } };
      };
    };
    const client = new loaded.fixture.v1.Fixture(`127.0.0.1:${app.get(GrpcTransport).port}`, grpc.credentials.createInsecure());
    try {
      const replies: object[] = [];
      const call = client.Hits({ query: 'q', limit: 5, order: 'asc', filters: [{ tag: 'a' }, { tag: 'b' }], level: 'high' });
      call.on('data', (r: object) => replies.push(r));
      call.on('error', () => undefined);
      const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      expect(status.code).toBe(grpc.status.OK);
      expect(replies).toEqual([
        {
          id: 'q',
          score: 5,
          points: [{ x: 1, y: 2, label: 'a' }],
          tags: { order: 'asc' },
          level: 'high',
          parent: { id: 'root', score: 0, level: 'low', extra: { note: 'a,b' } },
        },
      ]);
    } finally {
      client.close();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a typed gRPC binding whose data has no protobuf field type', () => {
    const bound: AppModel = {
      definitions: new Map([
        ['P', { kind: 'object', properties: [] }],
        ['E', { kind: 'object', properties: [{ name: 'meta', optional: false, type: { kind: 'unknown' } }] }],
      ]),
      streams: [{ ...stream('fixture/ping'), params: { kind: 'ref', name: 'P' }, event: { kind: 'ref', name: 'E' } }],
    };
    expect(() => writeProto(bound, 'x.v1')).toThrow(/FixtureController\.ping: E\.meta \(unknown\) has no protobuf field type/);
    expect(() => writeProto({ ...bound, streams: [{ ...bound.streams[0]!, event: { kind: 'string' } }] }, 'x.v1')).toThrow(/needs object event data/);
  });
});

describe('nestjs-longlink command', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) } };
  };
  // A small project (no gRPC binding, so no .proto): the command's behaviour, not the reading, is tested here.
  const project = mkdtempSync(join(tmpdir(), 'longlink-cli-'));
  const out = join(project, 'out');
  const args = ['generate', '--project', join(project, 'tsconfig.json'), '--out', out];
  beforeAll(() => {
    writeFileSync(join(project, 'a.controller.ts'), "import { Controller } from '@nestjs/common';\n@Controller('a') export class A {}\n");
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { experimentalDecorators: true, strict: true }, include: ['*.ts'] }),
    );
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('writes the files; --check fails on missing, edited or left-over ones; a new run removes a left-over .proto', () => {
    const first = io();
    expect(runCommand([...args, '--check'], first.io)).toBe(1);
    expect(first.err.join('')).toContain('stale generated file(s)');
    const written = io();
    expect(runCommand(args, written.io)).toBe(0);
    expect(readdirSync(out).sort()).toEqual([ASYNCAPI_FILE, CLIENT_FILE]);
    expect(readFileSync(join(out, CLIENT_FILE), 'utf8')).toContain('from "nestjs-longlink/client"');
    expect(runCommand([...args, '--check'], io().io)).toBe(0);
    writeFileSync(join(out, CLIENT_FILE), '// edited by hand\n');
    const edited = io();
    expect(runCommand([...args, '--check'], edited.io)).toBe(1);
    expect(edited.err.join('')).toContain(CLIENT_FILE);
    expect(runCommand(args, io().io)).toBe(0);
    writeFileSync(join(out, PROTO_FILE), '// from an earlier run\n');
    const leftover = io();
    expect(runCommand([...args, '--check'], leftover.io)).toBe(1);
    expect(leftover.err.join('')).toContain(PROTO_FILE);
    expect(runCommand(args, io().io)).toBe(0);
    expect(readdirSync(out).sort()).toEqual([ASYNCAPI_FILE, CLIENT_FILE]);
  }, 120_000);

  it('refuses bad usage with code 2 and reports a generator error with code 1', () => {
    const bad = io();
    expect(runCommand(['generate'], bad.io)).toBe(2);
    expect(bad.err.join('')).toContain('--out is required');
    expect(runCommand(['frobnicate', '--out', out], io().io)).toBe(2);
    const help = io();
    expect(runCommand(['--help'], help.io)).toBe(0);
    expect(help.out.join('')).toContain('Usage: nestjs-longlink generate');
    const missing = io();
    expect(runCommand(['generate', '--project', join(project, 'nope.json'), '--out', out], missing.io)).toBe(1);
    expect(missing.err.join('')).toContain('cannot read');
  });
});
