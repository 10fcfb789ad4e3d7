import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CodegenError } from './codegen-error.js';
import { ASYNCAPI_FILE, CLIENT_FILE, PROTO_FILE, generate } from './generate.js';

const USAGE = `Usage: nestjs-longlink generate --project <tsconfig.json> --out <dir> [options]

Reads the app's @Stream() handlers and writes, into <dir>:
  streams.client.ts  contracts (defineStream) and the Streams map for createClient<Streams>()
  asyncapi.json      an AsyncAPI 3.0 document of the streams
  streams.proto      the typed gRPC bindings (when a stream has grpc: { service, method })

Options:
  --project <file>        the app's tsconfig.json (default: tsconfig.json)
  --out <dir>             output folder (required)
  --include <path>        only read source files under this folder or file (repeatable)
  --client-import <spec>  module to import defineStream from (default: nestjs-longlink/client)
  --proto-package <name>  package of streams.proto (default: longlink.generated.v1)
  --title <text>          AsyncAPI info.title (default: the project folder's name)
  --api-version <text>    AsyncAPI info.version (default: 1.0.0)
  --check                 write nothing; exit 1 if the files in <dir> differ from what would be generated
`;

/** Where the command writes its messages (the process's streams, or a test's). */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

/**
 * Runs `nestjs-longlink <args>` and returns the exit code: 0 done, 1 failed (or stale files
 * with `--check`), 2 bad usage.
 */
export function runCommand(argv: string[], io: CommandIo): number {
  let values;
  let command: string | undefined;
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        project: { type: 'string', default: 'tsconfig.json' },
        out: { type: 'string' },
        include: { type: 'string', multiple: true },
        'client-import': { type: 'string' },
        'proto-package': { type: 'string' },
        title: { type: 'string' },
        'api-version': { type: 'string' },
        check: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    values = parsed.values;
    command = parsed.positionals[0];
    if (values.help) return (io.out(USAGE), 0);
    if (command !== 'generate' || parsed.positionals.length > 1) throw new Error(command ? `unknown command ${command}` : 'no command');
    if (!values.out) throw new Error('--out is required');
  } catch (error) {
    io.err(`nestjs-longlink: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  try {
    const files = generate({
      project: values.project,
      ...(values.include ? { include: values.include } : {}),
      ...(values['client-import'] ? { clientImport: values['client-import'] } : {}),
      ...(values['proto-package'] ? { protoPackage: values['proto-package'] } : {}),
      ...(values.title ? { title: values.title } : {}),
      ...(values['api-version'] ? { version: values['api-version'] } : {}),
    });
    if (values.check) {
      const stale = [...files].filter(([name, text]) => read(join(values.out!, name)) !== text).map(([name]) => name);
      // a file the generator no longer writes (a .proto after the last gRPC binding went)
      stale.push(...leftovers(files).filter((name) => read(join(values.out!, name)) !== undefined));
      if (stale.length) {
        io.err(`nestjs-longlink: stale generated file(s) in ${values.out}: ${stale.join(', ')} (run nestjs-longlink generate again)\n`);
        return 1;
      }
      io.out(`nestjs-longlink: ${files.size} generated file(s) in ${values.out} are up to date\n`);
      return 0;
    }
    mkdirSync(values.out, { recursive: true });
    for (const [name, text] of files) writeFileSync(join(values.out, name), text);
    for (const name of leftovers(files)) rmSync(join(values.out, name), { force: true });
    io.out(`nestjs-longlink: wrote ${[...files.keys()].map((n) => join(values.out!, n)).join(', ')}\n`);
    return 0;
  } catch (error) {
    if (error instanceof CodegenError) {
      io.err(`nestjs-longlink: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** Names the generator writes that it did not write this time. */
function leftovers(files: Map<string, string>): string[] {
  return [CLIENT_FILE, ASYNCAPI_FILE, PROTO_FILE].filter((name) => !files.has(name));
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
