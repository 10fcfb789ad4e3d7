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
    // Only the client's own modules and the import-free contract shared with the server are in
    // it; rxjs stays an import; gRPC is a lazy import the bundle never follows.
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((i) => !i.startsWith('lib/client/') && !i.startsWith('lib/contract/'))).toEqual([]);
    expect(inputs.some((i) => i.includes('grpc'))).toBe(false);
    expect(code).toMatch(/from"rxjs"/);
    expect(code).not.toMatch(/@nestjs|node:|@grpc/);
    expect(code).toMatch(/export\{/);
  });
});
