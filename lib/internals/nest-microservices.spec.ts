import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import { NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import { GrpcTransport, type LonglinkModuleOptions } from '../index.js';
import { conformanceModule } from '../../test/fixtures/probe.js';
import { DEMO_PROTO, streamsClient, toStruct } from '../../test/harness/grpc.harness.js';
import { within } from '../../test/harness/util.js';
import { packageVersion } from './package-version.js';

/**
 * The `@nestjs/microservices` door on the real `ServerGrpc`: each member it relies on, taken
 * off the prototype, fails bootstrap with a message naming the installed version and the one
 * the door was written for; the handler patterns are Nest's own (a changed pattern format
 * still serves); a lookup that no longer finds our handlers fails bootstrap instead of
 * answering UNIMPLEMENTED.
 */
const ServerGrpc = (createRequire(import.meta.url)('@nestjs/microservices') as { ServerGrpc: { prototype: Record<string, unknown> } }).ServerGrpc;
const VERSION = packageVersion('@nestjs/microservices');
const OPTIONS: LonglinkModuleOptions = { grpc: { url: '127.0.0.1:0', protoPath: DEMO_PROTO, package: 'sample.v1' } };

/** Runs `run` with `ServerGrpc.prototype[member]` replaced (deleted when `value` is undefined). */
async function withPrototype<T>(member: string, value: unknown, run: () => Promise<T>): Promise<T> {
  const had = Object.getOwnPropertyDescriptor(ServerGrpc.prototype, member)!;
  expect(had, `ServerGrpc.prototype.${member} exists`).toBeDefined();
  if (value === undefined) delete ServerGrpc.prototype[member];
  else ServerGrpc.prototype[member] = value;
  try {
    return await run();
  } finally {
    Object.defineProperty(ServerGrpc.prototype, member, had);
  }
}

async function bootstrap(): Promise<{ port: number; close: () => Promise<void> }> {
  const app = await NestFactory.create(conformanceModule(OPTIONS), { logger: false });
  try {
    await app.init();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return { port: app.get(GrpcTransport).port, close: () => app.close() };
}

describe('@nestjs/microservices door', () => {
  it.each(['createServiceMethod', 'createPattern', 'getKeepaliveOptions', 'createClient'])(
    'without ServerGrpc.prototype.%s, bootstrap fails naming the version',
    async (member) => {
      await withPrototype(member, undefined, async () => {
        await expect(bootstrap()).rejects.toThrow(
          `@nestjs/microservices ${VERSION} does not have ServerGrpc.prototype.${member}(), which the gRPC transport relies on (written for @nestjs/microservices 12.x)`,
        );
      });
    },
  );

  it("handlers are found under Nest's own pattern: another pattern format still serves", async () => {
    const original = ServerGrpc.prototype.createPattern as (...args: unknown[]) => string;
    await withPrototype(
      'createPattern',
      function (this: unknown, ...args: unknown[]) {
        return `changed:${original.apply(this, args)}`;
      },
      async () => {
        const { port, close } = await bootstrap();
        const client = streamsClient(port);
        try {
          const events: unknown[] = [];
          const call = client.Subscribe({ stream: 'demo/counter', params: toStruct({ count: 3, intervalMs: 0 }) });
          call.on('data', (e: { data: Buffer }) => events.push(JSON.parse(e.data.toString())));
          call.on('error', () => undefined);
          const status = await within(new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve)), 5000, 'status');
          expect(status.code).toBe(grpc.status.OK);
          expect(events).toEqual([0, 1, 2].map((n) => ({ n })));
        } finally {
          client.close();
          await close();
        }
      },
    );
  });

  it('when Nest no longer finds our handlers under the pattern we registered, bootstrap fails naming the version', async () => {
    const original = ServerGrpc.prototype.createPattern as (...args: unknown[]) => string;
    let calls = 0;
    // A lookup that differs from the registration: each call yields another pattern.
    await withPrototype(
      'createPattern',
      function (this: unknown, ...args: unknown[]) {
        return `${calls++}:${original.apply(this, args)}`;
      },
      async () => {
        await expect(bootstrap()).rejects.toThrow(
          `@nestjs/microservices ${VERSION} does not have handlers built through ServerGrpc.createServiceMethod()`,
        );
      },
    );
  });
});
