import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** The README's "Client" section reports this figure; keep them in step. */
export const MAX_CLIENT_GZIP_BYTES = 8 * 1024;

describe('browser build of nestjs-longlink/client', () => {
  it('is an ES module of at most 8 KB min+gzip (rxjs external), without Nest, Node built-ins or gRPC', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('../../lib/client/index.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      write: false,
      metafile: true,
      external: ['rxjs'],
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.text;
    const gzip = gzipSync(code, { level: 9 }).length;
    console.log(`client bundle: ${code.length} bytes minified, ${gzip} bytes min+gzip`);
    expect(gzip).toBeLessThanOrEqual(MAX_CLIENT_GZIP_BYTES);
    // Only the client's own modules and the import-free modules shared with the server (the
    // typed contracts, the wire protocol) are in it; rxjs stays an import; gRPC is a lazy import
    // the bundle never follows.
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((i) => !i.startsWith('lib/client/') && !i.startsWith('lib/contract/') && !i.startsWith('lib/protocol/'))).toEqual([]);
    expect(inputs.some((i) => i.startsWith('lib/protocol/'))).toBe(true);
    expect(inputs.some((i) => i.includes('grpc'))).toBe(false);
    expect(code).toMatch(/from"rxjs"/);
    expect(code).not.toMatch(/@nestjs|node:|@grpc/);
    expect(code).toMatch(/export\{/);
  });

  it('lib/protocol, which server and client share, imports nothing but its own files', async () => {
    const dir = fileURLToPath(new URL('../../lib/protocol/', import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
    expect(files).toContain('index.ts');
    for (const file of files) {
      const source = readFileSync(`${dir}${file}`, 'utf8');
      const specifiers = [...source.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
      expect(
        specifiers.filter((s) => !/^\.\/[\w.-]+\.js$/.test(s!)),
        file,
      ).toEqual([]);
    }
    // Every module of it, bundled for the browser with nothing external: no import is left.
    const result = await build({
      entryPoints: [`${dir}index.ts`],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    expect(Object.keys(result.metafile.inputs).filter((i) => !i.startsWith('lib/protocol/'))).toEqual([]);
    expect(result.outputFiles[0]!.text).not.toMatch(/\bimport\b|\brequire\(|@nestjs|node:|@grpc/);
  });
});
