import type { Redis } from 'ioredis';
import type { InputDedupStore } from '../../core/input/input-dedup.store.js';

/**
 * Acked client message ids shared by every instance on one Redis (PROTOCOL.md §7.1): one key
 * per id, `<prefix>in:<stream>:<channel>:<id>`, expiring after the dedup window. One command
 * per check and per record; a single key each, so it works on a cluster too. The per-channel
 * count bound of the in-memory store does not apply: the window bounds it.
 */
export class RedisInputDedupStore implements InputDedupStore {
  constructor(
    private readonly client: () => Redis,
    private readonly prefix: string,
    private readonly windowMs: number,
  ) {}

  private key(scope: string, id: string): string {
    return `${this.prefix}in:${scope}:${id}`;
  }

  async seen(scope: string, id: string): Promise<boolean> {
    return (await this.client().exists(this.key(scope, id))) === 1;
  }

  async record(scope: string, id: string): Promise<void> {
    await this.client().set(this.key(scope, id), '1', 'PX', this.windowMs);
  }
}
