#!/usr/bin/env node
/**
 * The package's command line, `npx nestjs-longlink generate ...` (the `bin` of package.json).
 * See `codegen.command.ts` for the commands and flags.
 */
import { runCommand } from './codegen.command.js';

process.exitCode = runCommand(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
