import 'reflect-metadata';
import { Controller, Logger } from '@nestjs/common';
import { MetadataScanner, type DiscoveryService } from '@nestjs/core';
import { of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { Stream } from '../decorators/stream.decorator.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import { LonglinkConfigError } from '../errors/longlink-config.error.js';
import { StreamRegistry, joinStreamName } from './stream-registry.js';

const OPTIONS = { flowControl: { maxQueueBytes: 1000, policy: 'disconnect' } } as unknown as ResolvedLonglinkOptions;

/** A registry over these controllers, as Nest's discovery service would list them. */
function registry(controllers: (new () => object)[], { scoped = false } = {}): StreamRegistry {
  const discovery = {
    getControllers: () =>
      controllers.map((metatype) => ({
        instance: new metatype(),
        metatype,
        host: { token: 'TestModule' },
        isDependencyTreeStatic: () => !scoped,
      })),
  } as unknown as DiscoveryService;
  return new StreamRegistry(discovery, new MetadataScanner(), OPTIONS);
}

@Controller('demo')
class Demo {
  @Stream('counter')
  counter() {
    return of(1);
  }

  @Stream()
  clock() {
    return of(2);
  }

  @Stream('ws-only', { transports: ['ws'], flowControl: { maxQueueBytes: 10 } })
  wsOnly() {
    return of(3);
  }

  notAStream() {
    return 4;
  }
}

@Controller(['a', 'b/'])
class TwoPaths {
  @Stream('x')
  x() {
    return of(1);
  }
}

@Controller()
class Root {
  @Stream('/top/')
  top() {
    return of(1);
  }
}

Logger.overrideLogger(false);

describe('StreamRegistry', () => {
  it('names streams <controller path>/<stream name or method name>', () => {
    const r = registry([Demo, TwoPaths, Root]);
    expect(
      r
        .all()
        .map((d) => d.name)
        .sort(),
    ).toEqual(['a/x', 'b/x', 'demo/clock', 'demo/counter', 'demo/ws-only', 'top']);
    const counter = r.get('demo/counter')!;
    expect(counter).toMatchObject({ methodName: 'counter', location: 'Demo.counter', controller: Demo, moduleKey: 'TestModule' });
    // eslint-disable-next-line @typescript-eslint/unbound-method -- compares the method's identity, never calls it
    expect(counter.callback).toBe(Demo.prototype.counter);
    expect(r.get('demo/notAStream')).toBeUndefined();
  });

  it('filters by transport', () => {
    const r = registry([Demo]);
    expect(r.forTransport('sse').map((d) => d.name)).toEqual(['demo/counter', 'demo/clock']);
    expect(r.forTransport('ws').map((d) => d.name)).toEqual(['demo/counter', 'demo/clock', 'demo/ws-only']);
    expect(r.find('demo/ws-only', 'sse')).toBeUndefined();
    expect(r.find('demo/ws-only', 'ws')?.name).toBe('demo/ws-only');
  });

  it("resolves flow control: the stream's own over the module default", () => {
    const r = registry([Demo]);
    expect(r.get('demo/counter')!.flowControl).toEqual({ maxQueueBytes: 1000, policy: 'disconnect' });
    expect(r.get('demo/ws-only')!.flowControl).toEqual({ maxQueueBytes: 10, policy: 'disconnect' });
  });

  it('scans once', () => {
    const r = registry([Demo]);
    expect(r.get('demo/counter')).toBe(r.get('demo/counter'));
  });

  it('refuses duplicate names, bad names, unknown transports and request-scoped controllers', () => {
    @Controller('demo')
    class Again {
      @Stream('counter')
      counter() {
        return of(1);
      }
    }
    @Controller('bad')
    class BadName {
      @Stream('sp ace')
      s() {
        return of(1);
      }
    }
    @Controller('t')
    class BadTransport {
      @Stream('s', { transports: ['mqtt' as never] })
      s() {
        return of(1);
      }
    }
    expect(() => registry([Demo, Again]).all()).toThrow(/duplicate stream name "demo\/counter": Demo.counter and Again.counter/);
    expect(() => registry([BadName]).all()).toThrow(LonglinkConfigError);
    expect(() => registry([BadName]).all()).toThrow(/invalid stream name "bad\/sp ace"/);
    expect(() => registry([BadTransport]).all()).toThrow(/unknown transport\(s\) mqtt/);
    expect(() => registry([Demo], { scoped: true }).all()).toThrow(/request-scoped/);
  });

  it('joinStreamName drops empty segments', () => {
    expect(joinStreamName('/a/', '', '/b//c/')).toBe('a/b/c');
    expect(joinStreamName('', 'x')).toBe('x');
  });
});
