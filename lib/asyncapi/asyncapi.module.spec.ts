import { fileURLToPath } from 'node:url';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { Module } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { createHttpApp, type HttpPlatform } from '../../test/harness/sse.harness.js';
import { LonglinkConfigError } from '../errors/longlink-config.error.js';
import { LonglinkAsyncApiModule } from './asyncapi.module.js';

const SAMPLE_DOCUMENT = fileURLToPath(new URL('../../sample/generated/asyncapi.json', import.meta.url));

describe.each<HttpPlatform>(['express', 'fastify'])('LonglinkAsyncApiModule (%s)', (platform) => {
  it('serves the generated document at its path, under the global prefix', async () => {
    @Module({ imports: [LonglinkAsyncApiModule.forRoot({ document: SAMPLE_DOCUMENT, path: 'docs/asyncapi.json' })] })
    class DocsModule {}
    const { app, baseUrl } = await createHttpApp(platform, DocsModule, (a) => a.setGlobalPrefix('api'));
    try {
      const response = await fetch(`${baseUrl}/api/docs/asyncapi.json`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const { document, diagnostics } = await new Parser().parse(await response.text());
      expect(diagnostics.filter((d) => Number(d.severity) === Number(DiagnosticSeverity.Error))).toEqual([]);
      expect(
        document!
          .channels()
          .all()
          .map((c) => c.address()),
      ).toContain('demo/counter');
      expect((await fetch(`${baseUrl}/docs/asyncapi.json`)).status).toBe(404);
    } finally {
      await app.close();
    }
  });
});

describe('LonglinkAsyncApiModule options', () => {
  it('takes the document as an object, at asyncapi.json by default', async () => {
    const doc = { asyncapi: '3.0.0', info: { title: 't', version: '1' } };
    @Module({ imports: [LonglinkAsyncApiModule.forRoot({ document: doc })] })
    class DocsModule {}
    const { app, baseUrl } = await createHttpApp('express', DocsModule);
    try {
      expect(await (await fetch(`${baseUrl}/asyncapi.json`)).json()).toEqual(doc);
    } finally {
      await app.close();
    }
  });

  it('fails at startup on a missing file or a document that is not AsyncAPI', async () => {
    expect(() => LonglinkAsyncApiModule.forRoot({ document: '/nonexistent/asyncapi.json' })).toThrow(LonglinkConfigError);
    expect(() => LonglinkAsyncApiModule.forRoot({ document: { openapi: '3.1.0' } })).toThrow(/not an AsyncAPI document/);
  });
});
