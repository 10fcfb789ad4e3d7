import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A file of the repository, from sample/ (source) or dist/sample/ (built). */
function repoFile(path: string): string | undefined {
  return ['../', '../../'].map((up) => fileURLToPath(new URL(up + path, import.meta.url))).find((c) => existsSync(c));
}

/**
 * The browser build of `nestjs-longlink/client` for the sample page: an ES module bundled by
 * esbuild from lib/client when the app starts (rxjs included, since a page has no import map
 * for it). esbuild is a devDependency: the sample runs from the repository.
 */
export async function buildClientBundle(): Promise<string> {
  const entry = repoFile('lib/client/index.ts');
  if (!entry) throw new Error('lib/client/index.ts not found');
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** uPlot (the chart of the ticker panel), ES module and stylesheet, from node_modules. */
export function uplotFiles(): { js: string; css: string } {
  const js = repoFile('node_modules/uplot/dist/uPlot.esm.js');
  const css = repoFile('node_modules/uplot/dist/uPlot.min.css');
  if (!js || !css) throw new Error('uplot not installed (npm install)');
  return { js: readFileSync(js, 'utf8'), css: readFileSync(css, 'utf8') };
}
