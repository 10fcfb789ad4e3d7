import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The installed version of `name` as seen from `from` (a file path or URL; default this
 * module), for the doors' bootstrap errors: `'unknown'` when it cannot be found. Reads the
 * package's `package.json` next to its resolved entry point, since not every package
 * exports `./package.json`.
 */
export function packageVersion(name: string, from: string = import.meta.url): string {
  try {
    let dir = dirname(createRequire(from).resolve(name));
    for (let depth = 0; depth < 8; depth++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // no package.json at this level: keep walking up
      }
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  } catch {
    // not installed
  }
  return 'unknown';
}

/** The message of a door that found a library without the shape it relies on. */
export function shapeError(door: string, library: string, expected: string, missing: string, from?: string): Error {
  return new Error(
    `LonglinkModule: ${library} ${packageVersion(library, from)} does not have ${missing}, which the ${door} relies on ` +
      `(written for ${library} ${expected}). Install a supported version of ${library}, or report it.`,
  );
}
