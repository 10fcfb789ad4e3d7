import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as TS from 'typescript';
import { CodegenError } from './codegen-error.js';

/** The TypeScript compiler API (the `typescript` package's namespace). */
export type TypeScript = typeof TS;

/**
 * Loads `typescript`, an optional peer dependency needed only by the generator: the
 * application's own copy first (resolved from its project folder, so the generator reads the
 * code with the compiler the app is built with), else one next to this package.
 *
 * @throws CodegenError when neither is installed.
 */
export function loadTypeScript(projectDir: string): TypeScript {
  for (const from of [join(projectDir, 'package.json'), import.meta.url]) {
    try {
      return createRequire(from)('typescript') as TypeScript;
    } catch {
      // try the next place
    }
  }
  throw new CodegenError(
    'the TypeScript compiler (package typescript) is not installed: the generator reads your code with it (npm install --save-dev typescript)',
  );
}
