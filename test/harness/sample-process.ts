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

/** A sample process being started: resolves `listening` once HTTP and gRPC listen. */
export interface LaunchedSample {
  child: ChildProcess;
  exited: Promise<string>;
  listening: Promise<SampleProcess>;
  /** Resolves when the output matches `pattern`. */
  printed(pattern: RegExp): Promise<void>;
  output(): string;
}

/** Spawns the sample with `env` on top of this process's. */
export function launchSample(env: Record<string, string> = {}): LaunchedSample {
  if (!existsSync(main)) throw new Error('dist/sample/main.js is missing: run `npm run build` (npm test does)');
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: { ...process.env, PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
  const listening = deferred<SampleProcess>();
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  let output = '';
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const w of [...waiters]) {
      if (w.pattern.test(output)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    const http = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
    const grpc = /gRPC at 127\.0\.0\.1:(\d+)/.exec(output);
    if (http && grpc && !listening.settled) {
      listening.resolve({ child, baseUrl: http[1]!, grpcPort: Number(grpc[1]), exited, output: () => output });
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  void exited.then((code) => listening.settled || listening.reject(new Error(`sample exited (${code}): ${output}`)));
  // A caller that fails before awaiting `listening` and kills the process (cleanup) gets no
  // second, unhandled "sample exited" error on top of its own; awaiting callers still see it.
  listening.promise.catch(() => undefined);
  return {
    child,
    exited,
    listening: listening.promise,
    printed: (pattern) => (pattern.test(output) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ pattern, resolve }))),
    output: () => output,
  };
}

/**
 * How long a sample may take to boot: a start takes 3-5 s on 2 loaded cores, over 20 s under a
 * flake hunt's burners.
 */
export const SAMPLE_BOOT_MS = 45_000;

/**
 * Starts the sample with `env` on top of this process's; resolves once HTTP and gRPC listen.
 * Past the deadline ({@link SAMPLE_BOOT_MS}) the process is killed and its output shown.
 */
export async function startSample(env: Record<string, string> = {}, ms = SAMPLE_BOOT_MS): Promise<SampleProcess> {
  const launched = launchSample(env);
  try {
    return await within(launched.listening, ms, 'sample app listening');
  } catch (error) {
    launched.child.kill('SIGKILL');
    throw new Error(`${error instanceof Error ? error.message : String(error)}; it printed:\n${launched.output()}`, { cause: error });
  }
}
