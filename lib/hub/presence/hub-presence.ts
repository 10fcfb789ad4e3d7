import { randomBytes } from 'node:crypto';
import type { Logger } from '@nestjs/common';
import { StreamErrorCode } from '../../protocol/stream-error-code.js';
import { StreamException } from '../../errors/stream-exception.js';
import type { PresenceEvent, PresenceHandle, PresenceMember, PresenceOptions } from './presence.interface.js';
import type { PresenceEntry, PresenceStore } from './presence-store.interface.js';

/** A key: 1 to 256 characters, no control character (U+0000 to U+001F, U+007F: it is stored before a newline). */
const KEY = /^[\u0020-\u007e\u0080-\uffff]{1,256}$/;
/** Expired entries removed per sweep command. */
const SWEEP_BATCH = 500;

/** One entry this instance owns. */
interface LocalEntry extends PresenceEntry {
  /** The handle that currently owns it (a reconnect within the grace window takes it over). */
  owner: object;
  /** Pending removal (grace window). */
  leaving: NodeJS.Timeout | undefined;
  windowStart: number;
  updates: number;
}

/** Groups entries by key, in the diff format (PROTOCOL.md §6.5). */
export function toMembers(entries: PresenceEntry[]): PresenceMember[] {
  const byKey = new Map<string, PresenceMember>();
  for (const e of entries) {
    let member = byKey.get(e.key);
    if (!member) byKey.set(e.key, (member = { key: e.key, metas: [] }));
    member.metas.push({ ref: e.ref, meta: JSON.parse(e.json) as unknown });
  }
  return [...byKey.values()];
}

/**
 * The hub's presence: tracks this instance's entries (with a grace window on leave), refreshes
 * them in the store, sweeps expired entries of any instance, and publishes every change as a
 * diff through `publish` (to the topic's presence topic).
 */
export class HubPresence {
  private readonly instance = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly local = new Map<string, LocalEntry>(); // `${topic}\n${ref}` → entry
  /** Entries inside their grace window, by `${topic}\n${key}` (the latest one per key). */
  private readonly leaving = new Map<string, LocalEntry>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: PresenceStore,
    private readonly publish: (topic: string, event: PresenceEvent) => Promise<unknown>,
    private readonly options: Required<PresenceOptions>,
    private readonly logger: Logger,
  ) {}

  /** Entries this instance owns right now. */
  get size(): number {
    return this.local.size;
  }

  /** Starts sweeping if the store holds entries (of an instance that may be gone). */
  async start(): Promise<void> {
    if (this.store.ttlMs !== undefined && (await this.store.hasEntries().catch(() => false))) this.startSweeping();
  }

  async track(topic: string, key: string, meta: unknown, signal?: AbortSignal): Promise<PresenceHandle> {
    if (typeof key !== 'string' || !KEY.test(key)) {
      throw new StreamException(StreamErrorCode.BAD_REQUEST, 'A presence key is 1 to 256 characters, none of them a control character');
    }
    const json = this.serialize(meta);
    const owner = {};
    // The same key on this topic within its grace window: take the entry over (no leave, no join).
    let entry = this.leaving.get(`${topic}\n${key}`);
    if (entry) {
      this.leaving.delete(`${topic}\n${key}`);
      clearTimeout(entry.leaving);
      entry.leaving = undefined;
      entry.owner = owner;
      if (entry.json !== json) {
        try {
          await this.change(entry, json);
        } catch (error) {
          this.leave(entry, owner); // not taken over after all: it leaves as it would have
          throw error;
        }
      }
    } else {
      entry = { topic, key, json, ref: `${this.instance}.${(++this.seq).toString(36)}`, owner, leaving: undefined, windowStart: 0, updates: 0 };
      if (!(await this.store.join(entry, this.options.maxMembers))) {
        throw new StreamException(StreamErrorCode.RESOURCE_EXHAUSTED, `The presence of this topic is full (${this.options.maxMembers} members)`);
      }
      this.local.set(`${topic}\n${entry.ref}`, entry);
      this.startTimers();
      try {
        await this.diff(topic, [entry], []);
      } catch (error) {
        // Not broadcast: not tracked either.
        this.local.delete(`${topic}\n${entry.ref}`);
        await this.store.leave(topic, entry.ref).catch(() => undefined);
        throw error;
      }
    }
    const tracked = entry;
    const handle: PresenceHandle = {
      topic,
      key,
      ref: tracked.ref,
      update: (next) => this.update(tracked, owner, next),
      leave: () => this.leave(tracked, owner),
    };
    if (signal?.aborted) handle.leave();
    else signal?.addEventListener('abort', () => handle.leave(), { once: true });
    return handle;
  }

  async list(topic: string): Promise<PresenceMember[]> {
    if (this.store.ttlMs !== undefined) this.startSweeping();
    return toMembers(await this.store.list(topic));
  }

  /** Shutdown: in memory, every entry leaves; on Redis, they expire after the grace window. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.sweepTimer);
    const entries = [...this.local.values()];
    for (const e of entries) clearTimeout(e.leaving);
    this.local.clear();
    this.leaving.clear();
    if (this.store.ttlMs === undefined) {
      for (const e of entries) await this.remove(e).catch(() => undefined);
    } else if (entries.length > 0) {
      await this.store.release(entries, this.options.graceMs).catch(() => undefined);
    }
  }

  private serialize(meta: unknown): string {
    let json: string | undefined;
    try {
      json = JSON.stringify(meta);
    } catch {
      json = undefined;
    }
    if (json === undefined) throw new StreamException(StreamErrorCode.BAD_REQUEST, 'Presence metadata must be JSON-serialisable');
    if (Buffer.byteLength(json) > this.options.maxMetaBytes) {
      throw new StreamException(StreamErrorCode.RESOURCE_EXHAUSTED, `Presence metadata is over ${this.options.maxMetaBytes} bytes`);
    }
    return json;
  }

  private async update(entry: LocalEntry, owner: object, meta: unknown): Promise<void> {
    if (entry.owner !== owner || entry.leaving || !this.local.has(`${entry.topic}\n${entry.ref}`)) {
      throw new StreamException(StreamErrorCode.CONFLICT, 'This presence handle has left');
    }
    const json = this.serialize(meta);
    const now = Date.now();
    if (now - entry.windowStart >= 1000) {
      entry.windowStart = now;
      entry.updates = 0;
    }
    if (++entry.updates > this.options.maxUpdatesPerSecond) {
      throw new StreamException(StreamErrorCode.RESOURCE_EXHAUSTED, `Over ${this.options.maxUpdatesPerSecond} presence updates per second`);
    }
    await this.change(entry, json);
  }

  private async change(entry: LocalEntry, json: string): Promise<void> {
    const before: PresenceEntry = { ...entry };
    entry.json = json;
    const previous = await this.store.update(entry);
    if (previous === undefined) {
      // Swept meanwhile (this instance stalled past the TTL): join again.
      await this.store.join(entry, Number.MAX_SAFE_INTEGER);
      return this.diff(entry.topic, [entry], []);
    }
    await this.diff(entry.topic, [entry], [{ ...before, json: previous }]);
  }

  private leave(entry: LocalEntry, owner: object): void {
    if (entry.owner !== owner || entry.leaving || this.closed) return;
    const id = `${entry.topic}\n${entry.ref}`;
    if (!this.local.has(id)) return;
    const byKey = `${entry.topic}\n${entry.key}`;
    const go = () => {
      if (this.local.get(id) !== entry || entry.owner !== owner) return;
      if (this.leaving.get(byKey) === entry) this.leaving.delete(byKey);
      this.local.delete(id);
      this.remove(entry).catch((error: unknown) => this.warn('leave', error));
      if (this.local.size === 0) {
        clearInterval(this.refreshTimer);
        this.refreshTimer = undefined;
      }
    };
    if (this.options.graceMs === 0) return go();
    entry.leaving = setTimeout(go, this.options.graceMs);
    entry.leaving.unref();
    this.leaving.set(byKey, entry);
  }

  private async remove(entry: PresenceEntry): Promise<void> {
    const removed = await this.store.leave(entry.topic, entry.ref);
    if (removed) await this.diff(entry.topic, [], [removed]);
  }

  private diff(topic: string, joins: PresenceEntry[], leaves: PresenceEntry[]): Promise<void> {
    return this.publish(topic, { type: 'diff', joins: toMembers(joins), leaves: toMembers(leaves) }).then(() => undefined);
  }

  private startTimers(): void {
    if (this.store.ttlMs === undefined) return;
    this.startSweeping();
    if (this.refreshTimer) return;
    this.refreshTimer = setInterval(() => void this.refresh(), Math.max(1, Math.floor(this.store.ttlMs / 3)));
    this.refreshTimer.unref();
  }

  private startSweeping(): void {
    if (this.sweepTimer || this.closed || this.store.ttlMs === undefined) return;
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(1, Math.floor(this.store.ttlMs / 2)));
    this.sweepTimer.unref();
  }

  private async refresh(): Promise<void> {
    try {
      const back = await this.store.refresh([...this.local.values()]);
      for (const [topic, entries] of byTopic(back)) await this.diff(topic, entries, []);
    } catch (error) {
      this.warn('refresh', error);
    }
  }

  private async sweep(): Promise<void> {
    try {
      for (;;) {
        const gone = await this.store.sweep(SWEEP_BATCH);
        for (const [topic, entries] of byTopic(gone)) await this.diff(topic, [], entries);
        if (gone.length < SWEEP_BATCH) return;
      }
    } catch (error) {
      this.warn('sweep', error);
    }
  }

  private warn(what: string, error: unknown): void {
    this.logger.warn(`Presence ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function byTopic(entries: PresenceEntry[]): Map<string, PresenceEntry[]> {
  const map = new Map<string, PresenceEntry[]>();
  for (const e of entries) {
    const list = map.get(e.topic);
    if (list) list.push(e);
    else map.set(e.topic, [e]);
  }
  return map;
}
