/**
 * The Redis adapter's key and channel names. On a single Redis: `<prefix>t:<topic>` (history
 * stream), `<prefix>w:<topic>` (watermark), `<prefix>c:<topic>` (channel). On a Redis Cluster
 * each name carries the topic as its hash tag, `<prefix>{<topic>}:t` (`:w`, `:c`), so that a
 * topic's stream, watermark and shard channel live in one slot and one script can use them all.
 * The epoch (`<prefix>epoch`) and the topics index (`<prefix>topics`) are one key each, in their
 * own slots. Topics never contain braces (hub-records.util.ts checks them), so the tag is exact.
 */
export class RedisKeys {
  readonly epoch: string;
  readonly topics: string;

  constructor(
    readonly prefix: string,
    readonly cluster: boolean,
  ) {
    this.epoch = `${prefix}epoch`;
    this.topics = `${prefix}topics`;
  }

  private name(kind: string, topic: string): string {
    return this.cluster ? `${this.prefix}{${topic}}:${kind}` : `${this.prefix}${kind}:${topic}`;
  }

  stream(topic: string): string {
    return this.name('t', topic);
  }

  watermark(topic: string): string {
    return this.name('w', topic);
  }

  channel(topic: string): string {
    return this.name('c', topic);
  }

  /** The topic a channel name belongs to, or `undefined` when it is not one of ours. */
  topicOf(channel: string): string | undefined {
    if (!this.cluster) return channel.startsWith(`${this.prefix}c:`) ? channel.slice(this.prefix.length + 2) : undefined;
    if (!channel.startsWith(`${this.prefix}{`) || !channel.endsWith('}:c')) return undefined;
    return channel.slice(this.prefix.length + 1, -3);
  }

  /** A topic's presence entries (hash): in the slot of its diff topic `<topic>:presence` on a cluster. */
  presence(topic: string): string {
    return this.cluster ? `${this.prefix}{${topic}:presence}:pm` : `${this.prefix}pm:${topic}`;
  }
}

/** The cluster slot (0 to 16383) of a key: CRC16 (XMODEM) of its hash tag, or of the whole key. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
