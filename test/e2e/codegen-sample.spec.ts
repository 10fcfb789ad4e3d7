/**
 * The sample's generated files (`sample/generated/`, written by `npm run generate:sample`):
 * they must match what the generator writes from the sample's code now (this spec fails when
 * they are stale), the AsyncAPI document must be valid, the generated `.proto` must serve the
 * typed gRPC method, and the page must type-check against the generated client types.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Module } from '@nestjs/common';
import * as ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, LonglinkModule } from '../../lib/index.js';
import { generate, type GeneratedFiles } from '../../lib/codegen/generate.js';
import { AppModule } from '../../sample/app.module.js';
import { DemoModule } from '../../sample/demo/demo.module.js';
import { createHttpApp } from '../harness/sse.harness.js';

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const GENERATED = root('sample/generated');
const LOADER = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true };

describe("the sample's generated files", () => {
  let fresh: GeneratedFiles;

  beforeAll(() => {
    // The same options as `npm run generate:sample`.
    fresh = generate({
      project: root('tsconfig.json'),
      include: [root('sample')],
      clientImport: '../../lib/client/index.js',
      protoPackage: 'sample.v1',
      title: 'nestjs-longlink sample',
    });
  }, 120_000);

  it("are up to date with the sample's code (else run npm run generate:sample)", () => {
    expect(readdirSync(GENERATED).sort()).toEqual([...fresh.keys()].sort());
    for (const [name, text] of fresh) {
      expect(readFileSync(join(GENERATED, name), 'utf8'), `sample/generated/${name} is stale: run npm run generate:sample`).toBe(text);
    }
  });

  it('asyncapi.json is a valid AsyncAPI 3.0 document with one channel per stream', async () => {
    const json = readFileSync(join(GENERATED, 'asyncapi.json'), 'utf8');
    const { document, diagnostics } = await new Parser().parse(json);
    expect(diagnostics.filter((d) => Number(d.severity) === Number(DiagnosticSeverity.Error))).toEqual([]);
    expect(document!.version()).toBe('3.0.0');
    expect(
      document!
        .channels()
        .all()
        .map((c) => c.address())
        .sort(),
    ).toEqual(['demo/chat', 'demo/clock', 'demo/complete', 'demo/counter', 'demo/echo', 'demo/fail', 'demo/presence', 'demo/secure', 'demo/ticker']);
    const secure = document!.operations().get('subscribeDemoSecure')!;
    const schemes = secure.security().flatMap((s) => s.all().map((r) => r.scheme()));
    expect(schemes.map((scheme) => [scheme.type(), scheme.description()])).toEqual([['httpApiKey', expect.stringContaining('`DemoAuthGuard`')]]);
    expect(
      document!
        .components()
        .securitySchemes()
        .all()
        .map((scheme) => scheme.id()),
    ).toEqual(['DemoAuthGuard']);
    expect(document!.operations().get('subscribeDemoCounter')!.security()).toEqual([]);
  });

  it('the sample app serves asyncapi.json at /asyncapi.json', async () => {
    process.env.GRPC_PORT = '0';
    const { app, baseUrl } = await createHttpApp('express', AppModule);
    try {
      const response = await fetch(`${baseUrl}/asyncapi.json`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(JSON.parse(readFileSync(join(GENERATED, 'asyncapi.json'), 'utf8')));
    } finally {
      await app.close();
    }
  });

  it('streams.proto serves the typed gRPC method with no hand-written proto', async () => {
    const protoPath = join(GENERATED, 'streams.proto');
    @Module({
      imports: [LonglinkModule.forRoot({ isGlobal: true, grpc: { url: '127.0.0.1:0', protoPath, package: 'sample.v1' } }), DemoModule],
    })
    class GeneratedProtoModule {}
    const { app } = await createHttpApp('express', GeneratedProtoModule);
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, LOADER)) as never as {
      sample: {
        v1: { Demo: new (a: string, c: grpc.ChannelCredentials) => grpc.Client & { Counter(req: object): grpc.ClientReadableStream<{ n: number }> } };
      };
    };
    const demo = new pkg.sample.v1.Demo(`127.0.0.1:${app.get(GrpcTransport).port}`, grpc.credentials.createInsecure());
    try {
      const replies: { n: number }[] = [];
      const call = demo.Counter({ from: 3, count: 3, intervalMs: 0 });
      call.on('data', (r: { n: number }) => replies.push(r));
      call.on('error', () => undefined);
      const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      expect(status.code).toBe(grpc.status.OK);
      expect(replies).toEqual([{ n: 3 }, { n: 4 }, { n: 5 }]);
    } finally {
      demo.close();
      await app.close();
    }
  });

  describe('the sample page (sample/public/app.js) uses the generated types', () => {
    const check = (edit: (source: string) => string = (s) => s): string[] => {
      const configPath = root('sample/public/tsconfig.json');
      const config = ts.parseJsonConfigFileContent(
        ts.readConfigFile(configPath, (path) => ts.sys.readFile(path)).config,
        ts.sys,
        root('sample/public'),
      );
      const host = ts.createCompilerHost(config.options);
      const page = root('sample/public/app.js');
      const getSourceFile = host.getSourceFile.bind(host);
      host.getSourceFile = (file, language, ...rest) =>
        file === page ? ts.createSourceFile(file, edit(readFileSync(page, 'utf8')), language) : getSourceFile(file, language, ...rest);
      const program = ts.createProgram(config.fileNames, config.options, host);
      return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    };

    it('type-checks', () => {
      expect(check()).toEqual([]);
    }, 120_000);

    it('rejects a misspelt stream name and a wrong param there', () => {
      expect(check((s) => s.replace("client.stream('demo/counter',", "client.stream('demo/countr',")).join('\n')).toContain('demo/countr');
      expect(check((s) => s.replace('{ count: 10_000, intervalMs: 100 }', "{ count: '10000', intervalMs: 100 }")).join('\n')).toMatch(
        /string.*number/s,
      );
    }, 120_000);
  });
});
