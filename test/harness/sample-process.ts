import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deferred, within } from './util.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = fileURLToPath(new URL('../../dist/sample/main.js', import.meta.url));

/** The built sample app (what `npm start` runs) in a child process. */
export interface SampleProcess {
  child: ChildProcess;
  baseUrl: string;
  grpcPort: number;
  /** Resolves with the signal (or `code N`) the process exited with. */
  exited: Promise<string>;
  /** Everything it printed. */
  output(): string;
}

/** Starts the sample with `env` on top of this process's; resolves once HTTP and gRPC listen. */
export async function startSample(env: Record<string, string> = {}): Promise<SampleProcess> {
  if (!existsSync(main)) throw new Error('dist/sample/main.js is missing: run `npm run build` (npm test does)');
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: { ...process.env, PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
  const listening = deferred<{ baseUrl: string; grpcPort: number }>();
  let output = '';
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    const http = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
    const grpc = /gRPC at 127\.0\.0\.1:(\d+)/.exec(output);
    if (http && grpc) listening.resolve({ baseUrl: http[1]!, grpcPort: Number(grpc[1]) });
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  void exited.then((code) => listening.reject(new Error(`sample exited (${code}): ${output}`)));
  const { baseUrl, grpcPort } = await within(listening.promise, 20_000, 'sample app listening');
  return { child, baseUrl, grpcPort, exited, output: () => output };
}
