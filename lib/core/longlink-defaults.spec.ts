import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveLonglinkOptions } from './longlink-options.js';

/** `'x'` → x, `{ a: 1 }` → { a: 1 }, `15000` → 15000: the README's literal as a value. */
function literal(text: string): unknown {
  return JSON.parse(text.replace(/'/g, '"').replace(/([{,]\s*)([A-Za-z]\w*):/g, '$1"$2":'));
}

/** The module option table of README.md: option path → the default it states, for literal defaults. */
function readmeDefaults(): Map<string, unknown> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const table = readme.slice(readme.indexOf('| Option | Default | Meaning |'));
  const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
  const defaults = new Map<string, unknown>();
  for (const row of rows) {
    const [options = '', given = ''] = row.split(' | ');
    const paths = options.split(' / ').map((o) => /^\|? ?`([\w.]+)`$/.exec(o.trim())?.[1]);
    const values = given.split(' / ').map((v) => /^`([^`]+)`/.exec(v.trim())?.[1]);
    paths.forEach((path, i) => {
      if (path !== undefined && values[i] !== undefined && paths.length === values.length) defaults.set(path, literal(values[i]));
    });
  }
  return defaults;
}

describe('option defaults', () => {
  it("README's option table states the defaults the resolver applies", () => {
    const resolved = resolveLonglinkOptions({ ws: true, grpc: true }) as unknown as Record<string, unknown>;
    const defaults = readmeDefaults();
    expect(defaults.size).toBeGreaterThan(35);
    for (const [path, stated] of defaults) {
      const actual = path.split('.').reduce<unknown>((o, key) => (o as Record<string, unknown>)[key], resolved);
      expect({ path, value: actual }).toEqual({ path, value: stated });
    }
  });
});
