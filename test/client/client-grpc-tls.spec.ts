import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ServerCredentials, credentials } from '@grpc/grpc-js';
import { firstValueFrom, interval, map, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../lib/client/index.js';
import { GrpcTransport, LonglinkModule, Stream, tracked } from '../../lib/index.js';
import { within } from '../harness/util.js';

@Controller('tls')
class TlsController {
  @Stream('count')
  count() {
    return interval(5).pipe(
      take(3),
      map((n) => tracked(n, { n })),
    );
  }
}

describe('client over gRPC with TLS (grpcCredentials)', { timeout: 40_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'longlink-tls-'));
  let app: INestApplication;
  let grpcUrl: string;
  let ca: Buffer;

  beforeAll(async () => {
    // A self-signed certificate for 127.0.0.1, made for this run.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    ca = readFileSync(join(dir, 'cert.pem'));
    const serverCredentials = ServerCredentials.createSsl(null, [{ private_key: readFileSync(join(dir, 'key.pem')), cert_chain: ca }]);
    @Module({ imports: [LonglinkModule.forRoot({ grpc: { url: '127.0.0.1:0', credentials: serverCredentials } })], controllers: [TlsController] })
    class TlsModule {}
    app = await NestFactory.create(TlsModule, { logger: false, forceCloseConnections: true });
    await app.listen(0, '127.0.0.1');
    grpcUrl = `127.0.0.1:${app.get(GrpcTransport).port}`;
  }, 40_000);

  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('grpcCredentials: createSsl(ca) streams over TLS; the default (plaintext) cannot', async () => {
    const tls = createClient({ url: 'http://unused', transport: 'grpc', grpcUrl, grpcCredentials: credentials.createSsl(ca) });
    const plain = createClient({ url: 'http://unused', transport: 'grpc', grpcUrl, retry: { maxAttempts: 1, initialMs: 10 } });
    try {
      const values = await within(firstValueFrom(tls.stream<{ n: number }>('tls/count').pipe(toArray())), 10_000, 'TLS values');
      expect(values.map((v) => v.n)).toEqual([0, 1, 2]);
      await expect(within(firstValueFrom(plain.stream('tls/count').pipe(toArray())), 20_000, 'plaintext error')).rejects.toMatchObject({
        code: 'UNAVAILABLE',
      });
    } finally {
      await tls.close();
      await plain.close();
    }
  });
});
