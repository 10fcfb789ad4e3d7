import { ModuleRef, NestFactory } from '@nestjs/core';
import { GuardsConsumer } from '@nestjs/core/guards/guards-consumer.js';
import { RouterExplorer } from '@nestjs/core/router/router-explorer.js';
import { describe, expect, it } from 'vitest';
import { conformanceModule } from '../../test/fixtures/probe.js';
import { containerOf, missingNestInternal } from './nest.js';
import { packageVersion } from './package-version.js';

/**
 * The Nest door on the real Nest: what it relies on is there; a consumer method taken off its
 * prototype fails bootstrap naming the installed `@nestjs/core` and the version the door was
 * written for; so does a `ModuleRef` without its container; and a Nest that stops copying a
 * method's metadata onto the route handler it registers fails bootstrap naming the stream
 * instead of serving it through Nest's HTTP handler.
 */
const VERSION = packageVersion('@nestjs/core');

/** Creates and initialises the conformance app; closes it again if that fails. */
async function bootstrap(): Promise<{ close: () => Promise<void>; moduleRef: ModuleRef }> {
  const app = await NestFactory.create(conformanceModule(), { logger: false, abortOnError: false });
  try {
    await app.init();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return { close: () => app.close(), moduleRef: app.get(ModuleRef) };
}

describe('Nest door', () => {
  // First in the file: the door checks once, on its first success.
  it('without GuardsConsumer.prototype.tryActivate, bootstrap fails naming the version', async () => {
    const proto = GuardsConsumer.prototype as unknown as Record<string, unknown>;
    const tryActivate = proto['tryActivate'];
    delete proto['tryActivate'];
    try {
      expect(missingNestInternal()).toBe('GuardsConsumer.prototype.tryActivate()');
      await expect(bootstrap()).rejects.toThrow(
        `LonglinkModule: @nestjs/core ${VERSION} does not have GuardsConsumer.prototype.tryActivate(), which the stream pipeline relies on (written for @nestjs/core 12.x)`,
      );
    } finally {
      proto['tryActivate'] = tryActivate;
    }
    expect(missingNestInternal()).toBeUndefined();
  });

  it('the installed Nest has every internal the pipeline uses, and the container behind ModuleRef', async () => {
    expect(missingNestInternal()).toBeUndefined();
    const { close, moduleRef } = await bootstrap();
    try {
      expect(typeof containerOf(moduleRef).getModules).toBe('function');
      // A ModuleRef without its container (a Nest that keeps it elsewhere).
      Object.defineProperty(moduleRef, 'container', { value: undefined, configurable: true });
      expect(() => containerOf(moduleRef)).toThrow(
        `LonglinkModule: @nestjs/core ${VERSION} does not have a container on ModuleRef (ModuleRef.container.getModules())`,
      );
    } finally {
      await close();
    }
  });

  it("when Nest no longer copies a method's metadata onto its route handler, bootstrap fails naming the stream", async () => {
    const proto = RouterExplorer.prototype as unknown as Record<string, unknown>;
    const copy = proto['copyMetadataToCallback'];
    expect(typeof copy).toBe('function');
    proto['copyMetadataToCallback'] = () => undefined;
    try {
      await expect(bootstrap()).rejects.toThrow(/LonglinkModule: stream "[^"]+" \(.+\) got no SSE route from Nest/);
    } finally {
      proto['copyMetadataToCallback'] = copy;
    }
  });
});
