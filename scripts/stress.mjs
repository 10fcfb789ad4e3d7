#!/usr/bin/env node
// npm run test:stress [-- --short | --full] [vitest args...]
// Short mode (default when neither is given: short) is what CI runs; full mode uses the
// issue's full counts (10,000 cycles per transport, ...). Builds first: the shutdown scenario
// runs the built sample app and sends it SIGTERM. One scenario alone: pass its file, e.g.
// `npm run test:stress -- --short test/stress/client-fuzz.stress.ts`.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const mode = args.includes('--full') ? 'full' : 'short';
const rest = args.filter((a) => a !== '--full' && a !== '--short');
/** @type {(command: string, commandArgs: string[], env?: Record<string, string>) => number} */
const run = (command, commandArgs, env = {}) => spawnSync(command, commandArgs, { stdio: 'inherit', env: { ...process.env, ...env } }).status ?? 1;

let status = run('npm', ['run', '--silent', 'build']);
if (status !== 0) process.exit(status);
status = run('npx', ['vitest', 'run', '--config', 'vitest.stress.config.ts', ...rest], { STRESS_MODE: mode });
process.exit(status);
