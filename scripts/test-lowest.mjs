#!/usr/bin/env node
// Lowest supported versions (`npm run test:lowest`): the low end of every peer range in
// package.json is a tested version. Copies the sources and tests into a temp folder, installs
// the low end of each peer range there from the registry (the rest of the dev tooling as the
// lock file has it), and runs the conformance suite (every case on every transport, Express and
// Fastify) plus the hub, gRPC, metrics and client suites (ioredis, grpc-js, proto-loader,
// reflection, health, @opentelemetry/api, ws, eventsource).
// A range over several majors (ioredis `^5.0.0 || ^6.0.0`) is tested here at the low end of
// its lowest major, and by `npm test` on the lock's version of the newest one.
// The repository's own node_modules is not touched. KEEP_LOWEST_TEST=1 keeps the folder.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
/**
 * JSON text as a value of a type to be stated by the caller.
 * @param {string} text
 * @returns {unknown}
 */
const parseJson = (text) => JSON.parse(text);

const pkg = /** @type {{ peerDependencies: Record<string, string>, devDependencies: Record<string, string>, overrides?: object }} */ (
  parseJson(readFileSync(join(root, 'package.json'), 'utf8'))
);

/**
 * `^12.0.1` → `12.0.1`: the lowest version a caret/tilde/>= range admits. For a union
 * (`^5.0.0 || ^6.0.0`), the low end of its lowest alternative; the newer majors run in
 * `npm test` on the lock's versions.
 * @param {string} name
 * @param {string} range
 * @returns {string}
 */
function lowEnd(name, range) {
  const ends = range.split('||').map((alternative) => {
    const match = /^(?:\^|~|>=)?\s*(\d+)\.(\d+)\.(\d+)$/.exec(alternative.trim());
    if (!match) throw new Error(`test:lowest: cannot take the low end of ${name}@${range}: use ^x.y.z, ~x.y.z or >=x.y.z, or several joined by ||`);
    return match.slice(1).map(Number);
  });
  ends.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  return ends[0].join('.');
}

// lowEnd's own check, before anything is installed.
for (const [range, low] of [
  ['^12.0.1', '12.0.1'],
  ['>=0.2.0', '0.2.0'],
  ['^5.0.0 || ^6.0.0', '5.0.0'],
  ['^6.1.0 || ~5.10.2', '5.10.2'],
]) {
  if (lowEnd('check', range) !== low) throw new Error(`test:lowest: lowEnd(${range}) is ${lowEnd('check', range)}, expected ${low}`);
}

const lowest = Object.fromEntries(Object.entries(pkg.peerDependencies).map(([name, range]) => [name, lowEnd(name, range)]));
// The ws copy the module uses is the one @nestjs/platform-ws ships; the tests' ws client matches it.
const platformWs = /** @type {{ ws: string }} */ (
  parseJson(execFileSync('npm', ['view', `@nestjs/platform-ws@${lowest['@nestjs/platform-ws']}`, 'dependencies', '--json'], { encoding: 'utf8' }))
);
lowest.ws = platformWs.ws;

const work = mkdtempSync(join(tmpdir(), 'longlink-lowest-'));
let status = 1;
try {
  for (const path of ['lib', 'test', 'sample', 'proto', 'tsconfig.json', 'vitest.config.ts', 'README.md', 'PROTOCOL.md'])
    cpSync(join(root, path), join(work, path), { recursive: true });
  const devDependencies = { ...pkg.devDependencies, ...lowest };
  writeFileSync(
    join(work, 'package.json'),
    JSON.stringify({ name: 'longlink-lowest', private: true, type: 'module', devDependencies, overrides: pkg.overrides }, null, 2),
  );
  console.log('test:lowest: installing the low end of every peer range:');
  for (const [name, version] of Object.entries(lowest)) console.log(`  ${name}@${version}`);
  const install = spawnSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: work, encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`test:lowest: npm install failed:\n${install.stdout}${install.stderr}`);
  for (const name of Object.keys(lowest)) {
    const installed = /** @type {{ version: string }} */ (parseJson(readFileSync(join(work, 'node_modules', name, 'package.json'), 'utf8'))).version;
    if (installed !== lowest[name]) throw new Error(`test:lowest: ${name} installed as ${installed}, expected ${lowest[name]}`);
  }
  // Conformance (Nest, platforms, ws, grpc-js), hub (ioredis), gRPC (proto-loader, reflection,
  // health), metrics (@opentelemetry/api), and the client (ws, eventsource, grpc-js from Node).
  // The sample is built for the suites that start it as a process (metrics). Emitted without
  // type checking (--noCheck): the sources are type-checked against the lock's versions by
  // npm test, and users compile against the published declarations, which name no optional
  // peer's types (npm run test:package checks that with skipLibCheck: false). Older peers'
  // own typings differ in details (ioredis 5.0.0 has no named `Redis` type) without changing
  // what runs, which the suites below test.
  writeFileSync(
    join(work, 'tsconfig.build.json'),
    JSON.stringify({ extends: './tsconfig.json', include: ['lib', 'sample'], exclude: ['**/*.spec.ts'] }),
  );
  const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--noCheck'], { cwd: work, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`test:lowest: tsc failed on the lowest versions:\n${build.stdout}${build.stderr}`);
  const suites = [
    'test/conformance',
    'lib/hub/adapters/hub-adapters.spec.ts',
    'test/e2e/hub.spec.ts',
    'test/e2e/grpc.spec.ts',
    'test/e2e/grpc-reflection.spec.ts',
    'test/e2e/metrics.spec.ts',
    'test/client/client.spec.ts',
  ];
  console.log(`test:lowest: vitest run ${suites.join(' ')}`);
  const tests = spawnSync('npx', ['vitest', 'run', ...suites], { cwd: work, stdio: 'inherit', env: { ...process.env, CI: '' } });
  status = tests.status ?? 1;
  console.log(
    status === 0 ? 'test:lowest: passed on the lowest supported versions' : 'test:lowest: FAILED on the lowest supported versions (see above)',
  );
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
} finally {
  if (process.env.KEEP_LOWEST_TEST) console.log(`test:lowest: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
process.exit(status);
