import { dirname, relative, resolve, sep } from 'node:path';
import { writeAsyncApi } from './asyncapi.writer.js';
import { CodegenError } from './codegen-error.js';
import { writeProto } from './proto.writer.js';
import { StreamScanner } from './stream-scanner.js';
import type { AppModel } from './type-model.js';
import { writeClientFile } from './typescript.writer.js';
import { loadTypeScript } from './typescript.loader.js';

/** Options of {@link generate} (the CLI's flags). */
export interface GenerateOptions {
  /** The app's tsconfig.json. */
  project: string;
  /** Only scan source files under these folders or files (default: every file of the project outside node_modules). */
  include?: string[];
  /** Module the client file imports `defineStream` from. Default `nestjs-longlink/client`. */
  clientImport?: string;
  /** Package of the generated `.proto`. Default `longlink.generated.v1`. */
  protoPackage?: string;
  /** AsyncAPI `info.title` / `info.version`. Default: the project folder's name, `1.0.0`. */
  title?: string;
  version?: string;
}

/** Generated files, by file name (relative to the output folder), in a stable order. */
export type GeneratedFiles = Map<string, string>;

/** The names of the generated files. */
export const CLIENT_FILE = 'streams.client.ts';
export const ASYNCAPI_FILE = 'asyncapi.json';
export const PROTO_FILE = 'streams.proto';

/** Reads the app's streams with the TypeScript compiler. */
export function readApp(options: GenerateOptions): AppModel {
  const project = resolve(options.project);
  const ts = loadTypeScript(dirname(project));
  const config = ts.readConfigFile(project, (path) => ts.sys.readFile(path));
  if (config.error) throw new CodegenError(`cannot read ${options.project}: ${ts.flattenDiagnosticMessageText(config.error.messageText, '\n')}`);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, dirname(project));
  const include = (options.include ?? []).map((p) => resolve(p));
  const inScope = (file: string) =>
    !file.split(/[\\/]/).includes('node_modules') &&
    (include.length === 0 || include.some((root) => file === root || file.startsWith(root + sep) || file.startsWith(`${root}/`)));
  const roots = parsed.fileNames.filter((f) => inScope(resolve(f)));
  if (roots.length === 0) throw new CodegenError(`no source files of ${options.project} match ${include.map((p) => relative('.', p)).join(', ')}`);
  const program = ts.createProgram(roots, { ...parsed.options, noEmit: true });
  const files = program.getSourceFiles().filter((f) => !f.isDeclarationFile && inScope(resolve(f.fileName)));
  return new StreamScanner(ts, program).scan(files);
}

/**
 * Generates the client file, the AsyncAPI document and (when a stream has a typed gRPC
 * binding) the `.proto`, from the app's `@Stream()` handlers. Writes nothing: the caller
 * writes or compares the files.
 *
 * @throws CodegenError on an option, stream or type the generator cannot handle.
 */
export function generate(options: GenerateOptions): GeneratedFiles {
  return writeFiles(readApp(options), options);
}

/** The generated files of an app already read by {@link readApp}. */
export function writeFiles(model: AppModel, options: Omit<GenerateOptions, 'include'>): GeneratedFiles {
  const files: GeneratedFiles = new Map();
  files.set(CLIENT_FILE, writeClientFile(model, options.clientImport ?? 'nestjs-longlink/client'));
  const title = options.title ?? dirname(resolve(options.project)).split(/[\\/]/).pop() ?? 'streams';
  files.set(ASYNCAPI_FILE, `${JSON.stringify(writeAsyncApi(model, { title, version: options.version ?? '1.0.0' }), null, 2)}\n`);
  const proto = writeProto(model, options.protoPackage ?? 'longlink.generated.v1');
  if (proto !== undefined) files.set(PROTO_FILE, proto);
  return files;
}
