import { describe, expect, it } from 'vitest';
import { LonglinkConfigError } from '../errors/longlink-config.error.js';
import { resolveLonglinkOptions } from './longlink-options.js';

const hub = (redis: unknown) => () => resolveLonglinkOptions({ hub: { redis } } as never);

describe('hub.redis', () => {
  it('accepts a URL, plain ioredis options and a Sentinel configuration, as given', () => {
    expect(resolveLonglinkOptions({ hub: { redis: 'redis://127.0.0.1:6379' } }).hub.redis).toBe('redis://127.0.0.1:6379');
    expect(resolveLonglinkOptions({ hub: { redis: { host: '127.0.0.1', port: 6380 } } }).hub.redis).toEqual({ host: '127.0.0.1', port: 6380 });
    const sentinel = { sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: 'sentinel-b' }], name: 'mymaster', sentinelPassword: 'x' };
    expect(resolveLonglinkOptions({ hub: { redis: sentinel } }).hub.redis).toBe(sentinel);
    expect(hub({ ...sentinel, role: 'master' })).not.toThrow();
  });

  it.each([
    [42, 'invalid option "hub.redis": expected a redis:// URL or ioredis options'],
    [['redis://a'], 'invalid option "hub.redis": expected a redis:// URL or ioredis options'],
    [{ sentinels: [], name: 'm' }, 'invalid option "hub.redis.sentinels": expected a non-empty array of { host, port }'],
    [{ sentinels: '127.0.0.1:26379', name: 'm' }, 'invalid option "hub.redis.sentinels"'],
    [{ sentinels: ['127.0.0.1:26379'], name: 'm' }, 'invalid option "hub.redis.sentinels[0]": expected { host, port }'],
    [{ sentinels: [{ host: 'a', port: 26379 }, { port: 26380 }], name: 'm' }, 'invalid option "hub.redis.sentinels[1].host"'],
    [{ sentinels: [{ host: 'a', port: 0 }], name: 'm' }, 'invalid option "hub.redis.sentinels[0].port": expected a port from 1 to 65535'],
    [{ sentinels: [{ host: 'a', port: '26379' }], name: 'm' }, 'invalid option "hub.redis.sentinels[0].port"'],
    [{ sentinels: [{ host: 'a' }] }, 'invalid option "hub.redis.name": expected the master group name the sentinels monitor'],
    [{ sentinels: [{ host: 'a' }], name: '' }, 'invalid option "hub.redis.name"'],
    [
      { sentinels: [{ host: 'a' }], name: 'm', role: 'slave' },
      'invalid option "hub.redis.role": expected "master" (the hub writes to Redis), got "slave"',
    ],
    [{ host: 'a', name: 'mymaster' }, 'invalid option "hub.redis.name": expected no value without hub.redis.sentinels'],
  ])('refuses %j with a LonglinkConfigError naming the field', (redis, message) => {
    expect(hub(redis)).toThrow(LonglinkConfigError);
    expect(hub(redis)).toThrow(message);
  });
});
