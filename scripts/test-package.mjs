#!/usr/bin/env node
// Package test (`npm run test:package`): the library is what its tarball is. Packs the
// repository (prepack builds dist/lib), checks the tarball's file list, then creates fresh Nest
// apps in a temp folder the way users do and uses the package from there:
//   types: only the required peers installed; every public entry point type-checks with
//          skipLibCheck: false (no optional peer's types may leak into published .d.ts files).
//   cjs:   a CommonJS app as `nest new` set them up for years ("module": "commonjs").
//   esm:   an ES module app ("type": "module", "module": "nodenext").
// The apps get the README's Usage example (gRPC switched on at port 0), are built with tsc
// (once more with skipLibCheck: false), started, and one stream is hit over SSE, WebSocket
// and gRPC with real clients (eventsource, ws, @grpc/grpc-js), the gRPC one loading the generic
// proto through the package's `./proto/*` export, then with the package's own client
// (`nestjs-longlink/client`) on each transport.
// declarations: the published .d.ts files carry no `@internal` declaration (stripInternal) and
//          the entry points export none of the names removed from the public API.
//          `node scripts/test-package.mjs --declarations [dist/lib]` runs only this check (after
//          `npm run build:lib`).
// Installs use --prefer-offline: the npm cache that `npm ci` filled has every version needed;
// except ioredis, installed first and unpinned as a user would, so the newest major is checked
// against the package's peer range.
// Set KEEP_PACKAGE_TEST=1 to keep the temp folder. Exits non-zero with a message naming what broke.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const declarationsOnly = process.argv[2] === '--declarations';
const work = declarationsOnly ? undefined : mkdtempSync(join(tmpdir(), 'longlink-package-'));
const started = Date.now();
const children = new Set();

class PackageTestError extends Error {}
function fail(step, message) {
  throw new PackageTestError(`[${step}] ${message}`);
}
function log(message) {
  console.log(`test:package ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${message}`);
}
function run(step, command, args, cwd) {
  try {
    return execFileSync(command, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false' },
    });
  } catch (error) {
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`
      .split('\n')
      .filter((l) => !/EBADENGINE|^npm warn/.test(l))
      .join('\n');
    fail(step, `\`${command} ${args.join(' ')}\` failed in ${cwd}:\n${output.slice(-4000)}`);
  }
}
/** The version the repository's lock installed, so the npm cache has it. */
function installedVersion(name) {
  // Read from node_modules directly: some packages do not export ./package.json.
  return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
}
function pinned(names) {
  return names.map((name) => `${name}@${installedVersion(name)}`);
}

// ---------------------------------------------------------------------------------------------
// 1. Pack and check the file list.
function pack() {
  const out = run('pack', 'npm', ['pack', '--json', '--pack-destination', work], root);
  const info = JSON.parse(out.slice(out.indexOf('[')))[0];
  const files = info.files.map((f) => f.path);
  const required = [
    'package.json',
    'README.md',
    'PROTOCOL.md',
    'LICENSE',
    'CHANGELOG.md',
    'dist/lib/index.js',
    'dist/lib/index.d.ts',
    'proto/longlink/v1/longlink.proto',
  ];
  if (existsSync(join(root, 'lib/client/index.ts'))) required.push('dist/lib/client/index.js', 'dist/lib/client/index.d.ts');
  if (existsSync(join(root, 'lib/testing/index.ts'))) required.push('dist/lib/testing/index.js', 'dist/lib/testing/index.d.ts');
  const missing = required.filter((f) => !files.includes(f));
  if (missing.length) fail('pack', `the tarball lacks ${missing.join(', ')}`);
  const forbidden = files.filter(
    (f) =>
      /\.map$/.test(f) ||
      /\.spec\./.test(f) ||
      /^(test|bench|sample|scripts|lib)\//.test(f) ||
      (f.startsWith('proto/') && !f.startsWith('proto/longlink/')) ||
      /^dist\/(?!lib\/)/.test(f),
  );
  if (forbidden.length) fail('pack', `the tarball ships files users do not need: ${forbidden.slice(0, 10).join(', ')}`);
  for (const f of files.filter((f) => f.endsWith('.js'))) {
    if (!files.includes(f.replace(/\.js$/, '.d.ts'))) fail('pack', `${f} has no declaration file`);
  }
  log(`packed ${info.filename}: ${files.length} files, ${(info.size / 1024).toFixed(1)} KiB`);
  return join(work, info.filename);
}

// ---------------------------------------------------------------------------------------------
// 2. The published declarations name no internal.

/** Names the entry points must not export: internals (CHANGELOG "Removed from the public API"). */
const REMOVED_FROM_PUBLIC_API = [
  'StreamRegistry',
  'StreamDefinition',
  'LONGLINK_RESOLVED_OPTIONS',
  'LONGLINK_MODULE_OPTIONS',
  'ResolvedLonglinkOptions',
  'GENERIC_INTERNAL_MESSAGE',
  'toStreamException',
  'SSE_STATUS_BY_CODE',
  'WS_UPGRADE_STATUS_BY_CODE',
  'DEFAULT_RETRY_AFTER_SECONDS',
  'retryAfterSeconds',
];
const ENTRY_POINTS = ['index.d.ts', 'client/index.d.ts', 'testing/index.d.ts'];

function filesUnder(dir, suffix) {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith(suffix))
    .map((f) => join(dir, f));
}

/** Each declaration of lib/ whose TSDoc says `@internal`: its file (relative to lib/) and name. */
function internalDeclarations() {
  const lib = join(root, 'lib');
  const tagged =
    /\/\*\*(?:(?!\*\/)[\s\S])*@internal(?:(?!\*\/)[\s\S])*\*\/\s*(?:(?:export|declare|abstract|readonly|private|protected|public|static|async|get|set|class|function|const|let|interface|type|enum)\s+)*([A-Za-z_$][\w$]*)/g;
  return filesUnder(lib, '.ts')
    .filter((f) => !/\.(spec|d)\.ts$/.test(f))
    .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(tagged)].map((m) => ({ file: relative(lib, f), name: m[1] })));
}

/**
 * The published .d.ts files under `libDir` (dist/lib of the package): no `@internal` left
 * (stripInternal removes those declarations with their comment), no declaration of a name
 * tagged `@internal` in its source file, and no entry point exporting a removed name.
 */
function checkDeclarations(step, libDir) {
  const declarations = filesUnder(libDir, '.d.ts');
  if (!declarations.length) fail(step, `no .d.ts files under ${libDir}`);
  for (const file of declarations) {
    if (readFileSync(file, 'utf8').includes('@internal'))
      fail(step, `${relative(libDir, file)} still contains an @internal declaration: is stripInternal on in tsconfig.lib.json?`);
  }
  const internal = internalDeclarations();
  if (!internal.length) fail(step, 'found no @internal declaration in lib/: the search is broken');
  for (const { file, name } of internal) {
    const published = join(libDir, file.replace(/\.ts$/, '.d.ts'));
    if (!existsSync(published)) continue;
    const declared = new RegExp(
      `^\\s*(?:(?:export|declare|abstract|readonly|private|protected|public|static|get|set|class|function|const|let|interface|type|enum)\\s+)*${name.replace(/\$/g, '\\$')}\\b\\??\\s*[<(:;=]`,
      'm',
    );
    if (declared.test(readFileSync(published, 'utf8')))
      fail(step, `${relative(libDir, published)} declares ${name}, which is @internal in lib/${file}`);
  }
  const ts = createRequire(join(root, 'package.json'))('typescript');
  const entries = ENTRY_POINTS.map((e) => join(libDir, e)).filter((e) => existsSync(e));
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  for (const entry of entries) {
    const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry))).map((s) => s.getName());
    if (!exported.length) fail(step, `${relative(libDir, entry)} exports nothing: the check is broken`);
    const leaked = exported.filter((n) => REMOVED_FROM_PUBLIC_API.includes(n));
    if (leaked.length) fail(step, `${relative(libDir, entry)} exports internals: ${leaked.join(', ')}`);
  }
  log(`declarations: ${declarations.length} .d.ts files without @internal declarations; ${entries.length} entry points export no internal`);
}

// ---------------------------------------------------------------------------------------------
// 3. The README's Usage example, as written there (only the import is the package's own name).
function readmeUsage() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const usage = readme.slice(readme.indexOf('\n## Usage'));
  const match = /```ts\n([\s\S]*?)```/.exec(usage);
  if (!match) fail('readme', 'README.md has no ```ts block under "## Usage"');
  const code = match[1];
  if (!code.includes("from 'nestjs-longlink'")) fail('readme', "the Usage example does not import from 'nestjs-longlink'");
  const forRoot = /LonglinkModule\.forRoot\(\{ ws: true \}\)/;
  if (!forRoot.test(code)) fail('readme', 'the Usage example does not call LonglinkModule.forRoot({ ws: true }): update scripts/test-package.mjs');
  // The only change: gRPC on as well, on a free port, so the test can use all three transports.
  return code.replace(forRoot, "LonglinkModule.forRoot({ ws: true, grpc: { url: '127.0.0.1:0' } })");
}

const MAIN = (esm) => `import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { GrpcTransport } from 'nestjs-longlink';
import { AppModule } from './readme${esm ? '.js' : ''}';

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'], forceCloseConnections: true });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  console.log('READY ' + JSON.stringify({ port, grpcPort: app.get(GrpcTransport).port }));
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

const TSCONFIG = {
  cjs: {
    // As `nest new --type cjs` generates it (@nestjs/schematics 12, template `ts`; TypeScript 6
    // needs ignoreDeprecations for node10 resolution).
    module: 'commonjs',
    declaration: true,
    removeComments: true,
    emitDecoratorMetadata: true,
    experimentalDecorators: true,
    allowSyntheticDefaultImports: true,
    target: 'ES2023',
    sourceMap: true,
    outDir: './dist',
    rootDir: './src',
    incremental: false,
    skipLibCheck: true,
    strictNullChecks: true,
    types: ['node'],
    ignoreDeprecations: '6.0',
  },
  esm: {
    // As `nest new` generates it by default in CLI 12 (@nestjs/schematics 12, template
    // `ts-esm`, package.json "type": "module"), less its test-runner types and incremental
    // builds; rootDir is src (the app here has no test folder).
    module: 'nodenext',
    moduleResolution: 'nodenext',
    resolvePackageJsonExports: true,
    esModuleInterop: true,
    isolatedModules: true,
    declaration: true,
    removeComments: true,
    emitDecoratorMetadata: true,
    experimentalDecorators: true,
    allowSyntheticDefaultImports: true,
    target: 'ES2023',
    sourceMap: true,
    outDir: './dist',
    rootDir: './src',
    skipLibCheck: true,
    strict: true,
    strictPropertyInitialization: false,
    types: ['node'],
  },
};

const REQUIRED_PEERS = ['@nestjs/common', '@nestjs/core', 'rxjs', 'reflect-metadata'];
const APP_DEPS = [
  ...REQUIRED_PEERS,
  '@nestjs/platform-express',
  '@nestjs/platform-ws',
  '@nestjs/websockets',
  '@nestjs/microservices',
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  '@grpc/reflection',
  'grpc-health-check',
  'class-validator',
  'class-transformer',
];
const DEV_DEPS = ['typescript', '@types/node', 'ws', 'eventsource'];

function npmInstall(step, dir, specs) {
  run(step, 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...specs], dir);
}

// ---------------------------------------------------------------------------------------------
// 4. Types only: required peers, skipLibCheck false.
function typesApp(tarball) {
  const dir = join(work, 'types');
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'types-app', private: true, type: 'module' }, null, 2));
  npmInstall('types: install', dir, [tarball, ...pinned([...REQUIRED_PEERS, 'typescript', '@types/node'])]);
  checkDeclarations('declarations', join(dir, 'node_modules/nestjs-longlink/dist/lib'));
  const imports = ["import * as longlink from 'nestjs-longlink';", 'export const api: object = longlink;'];
  if (existsSync(join(root, 'lib/client/index.ts')))
    imports.push("import * as client from 'nestjs-longlink/client';", 'export const clientApi: object = client;');
  if (existsSync(join(root, 'lib/testing/index.ts')))
    imports.push("import * as testing from 'nestjs-longlink/testing';", 'export const testingApi: object = testing;');
  writeFileSync(join(dir, 'src/check.ts'), `${imports.join('\n')}\n`);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...TSCONFIG.esm, skipLibCheck: false, noEmit: true } }, null, 2));
  run('types: tsc with skipLibCheck false and no optional peer installed', join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], dir);
  log('types: the published declarations compile with only the required peers (skipLibCheck: false)');
}

// ---------------------------------------------------------------------------------------------
// 5. A CommonJS and an ES module app.
async function app(kind, tarball, usage) {
  const esm = kind === 'esm';
  const dir = join(work, kind);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `${kind}-app`, private: true, ...(esm ? { type: 'module' } : {}) }, null, 2));
  // The hub's Redis client first, the newest, as a user adds it (`npm install ioredis`): the
  // package's peer range must accept it, or the next install fails with ERESOLVE.
  run(`${kind}: npm install ioredis`, 'npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', 'ioredis'], dir);
  npmInstall(`${kind}: install next to the newest ioredis`, dir, [tarball, ...pinned(APP_DEPS), ...pinned(DEV_DEPS)]);
  const newest = run(`${kind}: npm view ioredis version`, 'npm', ['view', 'ioredis', 'version'], dir).trim();
  const ioredis = JSON.parse(readFileSync(join(dir, 'node_modules/ioredis/package.json'), 'utf8')).version;
  if (ioredis !== newest) fail(`${kind}: install`, `ioredis ${ioredis} installed, the newest is ${newest}`);
  log(`${kind}: installed next to ioredis ${ioredis}, the newest`);
  writeFileSync(join(dir, 'src/readme.ts'), usage);
  writeFileSync(join(dir, 'src/main.ts'), MAIN(esm));
  // The client's types resolve from this app's module settings too (typesVersions for node10).
  writeFileSync(
    join(dir, 'src/client-check.ts'),
    "import { createClient, StreamError } from 'nestjs-longlink/client';\nexport const check: [typeof createClient, typeof StreamError] = [createClient, StreamError];\n",
  );
  const tsc = join(dir, 'node_modules/.bin/tsc');
  writeFileSync(
    join(dir, 'tsconfig.strict-libs.json'),
    JSON.stringify({ extends: './tsconfig.json', compilerOptions: { skipLibCheck: false, noEmit: true } }, null, 2),
  );
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: TSCONFIG[kind], include: ['src'] }, null, 2));
  run(`${kind}: tsc`, tsc, ['-p', 'tsconfig.json'], dir);
  run(`${kind}: tsc with skipLibCheck false`, tsc, ['-p', 'tsconfig.strict-libs.json'], dir);
  log(`${kind}: README example built with tsc (also with skipLibCheck: false)`);

  const appRequire = createRequire(join(dir, 'package.json'));
  const proto = appRequire.resolve('nestjs-longlink/proto/longlink/v1/longlink.proto');
  const { port, grpcPort, stop } = await start(kind, dir);
  try {
    await overSse(kind, appRequire, port);
    await overWs(kind, appRequire, port);
    await overGrpc(kind, appRequire, grpcPort, proto);
    await withClient(kind, appRequire, port, grpcPort);
  } finally {
    await stop();
  }
  log(`${kind}: one stream served over SSE, WebSocket and gRPC to real clients and to nestjs-longlink/client`);
}

function start(kind, dir) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['dist/main.js'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    const timer = setTimeout(() => reject(new PackageTestError(`[${kind}: start] the app did not start within 20 s:\n${output}`)), 20_000);
    const stop = () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          children.delete(child);
          done();
        });
        child.kill('SIGTERM');
      });
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const line = /READY (\{.*\})/.exec(output);
      if (line) {
        clearTimeout(timer);
        resolvePromise({ ...JSON.parse(line[1]), stop });
      }
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new PackageTestError(`[${kind}: start] the app exited with ${code}:\n${output}`));
    });
  });
}

const AUTH = 'Bearer secret';
function within(step, ms, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new PackageTestError(`[${step}] no answer within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}
function expectTicks(step, values) {
  const seqs = values.map((v) => v.seq);
  if (values.length !== 2 || values.some((v) => v.symbol !== 'ACME') || seqs[0] !== 0 || seqs[1] !== 1) {
    fail(step, `expected ticks 0 and 1 of ACME, got ${JSON.stringify(values)}`);
  }
}

async function overSse(kind, appRequire, port) {
  const step = `${kind}: SSE`;
  const { EventSource } = appRequire('eventsource');
  const refused = await fetch(`http://127.0.0.1:${port}/prices/ticker?symbol=ACME`);
  await refused.body?.cancel();
  if (refused.status !== 403) fail(step, `without a token the stream should answer 403, got ${refused.status}`);
  const values = await within(
    step,
    10_000,
    new Promise((resolvePromise, reject) => {
      const got = [];
      const source = new EventSource(`http://127.0.0.1:${port}/prices/ticker?symbol=ACME&everyMs=20`, {
        fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, authorization: AUTH } }),
      });
      source.onmessage = (event) => {
        if (got.length === 2) return; // events already in the same chunk
        got.push(JSON.parse(event.data));
        if (got.length === 2) {
          source.close();
          resolvePromise([...got]);
        }
      };
      source.onerror = (event) => {
        source.close();
        reject(new PackageTestError(`[${step}] EventSource error: ${event.message ?? event.code}`));
      };
    }),
  );
  expectTicks(step, values);
}

async function overWs(kind, appRequire, port) {
  const step = `${kind}: WebSocket`;
  const WebSocket = appRequire('ws');
  const values = await within(
    step,
    10_000,
    new Promise((resolvePromise, reject) => {
      const got = [];
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { authorization: AUTH } });
      ws.on('error', reject);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', id: '1', stream: 'prices/ticker', params: { symbol: 'ACME', everyMs: 20 } })));
      ws.on('message', (raw) => {
        const message = JSON.parse(raw.toString());
        if (message.type !== 'next') return reject(new PackageTestError(`[${step}] unexpected message ${raw}`));
        if (got.length === 2) return; // sent before the unsubscribe arrived
        got.push(message.data);
        if (got.length === 2) {
          ws.send(JSON.stringify({ type: 'unsubscribe', id: '1' }));
          ws.close();
          resolvePromise(got);
        }
      });
    }),
  );
  expectTicks(step, values);
}

async function overGrpc(kind, appRequire, grpcPort, proto) {
  const step = `${kind}: gRPC`;
  const grpc = appRequire('@grpc/grpc-js');
  const loader = appRequire('@grpc/proto-loader');
  const definition = loader.loadSync(proto, { longs: String, enums: String, defaults: false, oneofs: true });
  const { Streams } = grpc.loadPackageDefinition(definition).longlink.v1;
  const client = new Streams(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  try {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', AUTH);
    const params = { fields: { symbol: { stringValue: 'ACME' }, everyMs: { numberValue: 20 } } };
    const values = await within(
      step,
      10_000,
      new Promise((resolvePromise, reject) => {
        const got = [];
        const call = client.Subscribe({ stream: 'prices/ticker', params }, metadata);
        call.on('data', (event) => {
          if (got.length === 2) return; // sent before the cancel arrived
          got.push(JSON.parse(Buffer.from(event.data).toString('utf8')));
          if (got.length === 2) {
            call.cancel();
            resolvePromise(got);
          }
        });
        call.on('error', (error) => {
          if (error.code !== grpc.status.CANCELLED) reject(new PackageTestError(`[${step}] ${error.message}`));
        });
      }),
    );
    expectTicks(step, values);
  } finally {
    client.close();
  }
}

/** The package's own client (`nestjs-longlink/client`), as installed in the app, on every transport. */
async function withClient(kind, appRequire, port, grpcPort) {
  const { createClient } = await import(pathToFileURL(appRequire.resolve('nestjs-longlink/client')).href);
  const { firstValueFrom, take, toArray } = await import(pathToFileURL(appRequire.resolve('rxjs')).href);
  for (const transport of ['sse', 'ws', 'grpc']) {
    const step = `${kind}: nestjs-longlink/client over ${transport}`;
    const client = createClient({ url: `http://127.0.0.1:${port}`, transport, grpcUrl: `127.0.0.1:${grpcPort}`, headers: { authorization: AUTH } });
    try {
      const values = await within(
        step,
        10_000,
        firstValueFrom(client.stream('prices/ticker', { symbol: 'ACME', everyMs: 20 }).pipe(take(2), toArray())),
      );
      expectTicks(step, values);
    } catch (error) {
      fail(step, error instanceof Error ? error.message : String(error));
    } finally {
      await client.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
async function main() {
  log(`working in ${work}`);
  const tarball = pack();
  const usage = readmeUsage();
  typesApp(tarball);
  await app('cjs', tarball, usage);
  await app('esm', tarball, usage);
  log('passed');
}

let status = 0;
try {
  if (declarationsOnly) checkDeclarations('declarations', resolve(process.argv[3] ?? join(root, 'dist/lib')));
  else await main();
} catch (error) {
  status = 1;
  console.error(`\ntest:package FAILED ${error instanceof PackageTestError ? error.message : (error?.stack ?? error)}`);
} finally {
  for (const child of children) child.kill('SIGKILL');
  if (!work) {
    // --declarations: nothing to clean up
  } else if (process.env.KEEP_PACKAGE_TEST) console.log(`test:package kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
process.exit(status);
