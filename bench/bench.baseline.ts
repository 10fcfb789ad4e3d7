/**
 * `--baseline=<git ref>`: the module as it is at another commit, built in a temporary git
 * worktree and served by that commit's own bench server, so a run compares this tree with it
 * side by side (implementation `baseline`, interleaved with the others like any of them).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A built checkout of the baseline commit. */
export interface Baseline {
  /** The ref as given. */
  ref: string;
  /** The commit it named. */
  commit: string;
  /** That commit's `dist/bench/server.main.js`. */
  serverMain: string;
  /** Removes the worktree (unless `BENCH_BASELINE_KEEP` is set). */
  remove(): void;
}

/** The repository this bench was built from (`dist/bench/` → the repository root). */
const REPO = fileURLToPath(new URL('../../', import.meta.url));

function git(args: string[], cwd = REPO): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/**
 * Checks out `ref` into a new temporary worktree (`git worktree add --detach`), links this
 * repository's `node_modules` into it (the same dependencies for both sides: what differs is the
 * module's code), and builds it with its own `tsconfig.build.json`. Takes 10-30 s.
 */
export function prepareBaseline(ref: string): Baseline {
  const commit = git(['rev-parse', '--verify', `${ref}^{commit}`]);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'longlink-baseline-'));
  git(['worktree', 'add', '--detach', dir, commit]);
  const remove = (): void => {
    if (process.env.BENCH_BASELINE_KEEP) return;
    try {
      git(['worktree', 'remove', '--force', dir]);
    } catch {
      // already gone
    }
  };
  try {
    symlinkSync(realpathSync(path.join(REPO, 'node_modules')), path.join(dir, 'node_modules'), 'dir');
    const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const config = existsSync(path.join(dir, 'tsconfig.build.json')) ? 'tsconfig.build.json' : 'tsconfig.json';
    try {
      execFileSync(process.execPath, [tsc, '-p', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      // Type errors against today's dependencies still emit JavaScript; only a missing server is fatal.
      const out = (error as { stdout?: Buffer }).stdout?.toString().split('\n').slice(0, 5).join('\n');
      console.log(`baseline ${ref}: tsc reported errors (the build is used anyway):\n${out}`);
    }
    const serverMain = path.join(dir, 'dist', 'bench', 'server.main.js');
    if (!existsSync(serverMain)) throw new Error(`baseline ${ref}: ${serverMain} was not built`);
    return { ref, commit, serverMain, remove };
  } catch (error) {
    remove();
    throw error;
  }
}
