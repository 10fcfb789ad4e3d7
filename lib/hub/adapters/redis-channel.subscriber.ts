import type { Redis } from 'ioredis';
import { subscribeOnce, type RedisSubscriber, type RedisSubscriberEvents } from './redis-subscriber.interface.js';

/**
 * Pub/Sub on a single Redis: one connection with ioredis' own resubscription (and its offline
 * queue, used only by that and the 'ready' handler); subscribe() and unsubscribe() never queue
 * behind a connection that is down.
 */
export class RedisChannelSubscriber implements RedisSubscriber {
  /** Channels this instance wants to be subscribed to. */
  private readonly channels = new Set<string>();
  /** Channels released while the connection was down (unsubscribed at its return). */
  private readonly releasedWhileDown = new Set<string>();
  private live = false;

  constructor(
    private readonly subscriber: Redis,
    /** Runs `fn` once the command connection is ready (history can be read). */
    private readonly whenCommandReady: (fn: () => void) => void,
    private readonly events: RedisSubscriberEvents,
  ) {
    subscriber.on('message', (channel: string, payload: string) => events.message(channel, payload));
    // Live delivery is lost from the subscriber's 'close' until it is 'ready' again and the
    // command connection can read history.
    subscriber.on('ready', () => this.onReady());
    subscriber.on('close', () => {
      if (!this.live) return;
      this.live = false;
      events.disconnected();
    });
  }

  /** The first 'ready' is not a reconnect: nothing to catch up on, but the same call is harmless. */
  private onReady(): void {
    if (this.live) return;
    const subscriber = this.subscriber;
    // Catch-up reads history after this; the channels must be subscribed again first, or
    // a publish between that read and the resubscription would be lost.
    const channels = [...this.channels];
    // Channels released while the connection was down, which ioredis has just resubscribed.
    const stale = [...this.releasedWhileDown].filter((c) => !this.channels.has(c));
    this.releasedWhileDown.clear();
    if (stale.length) void subscriber.unsubscribe(...stale).catch(() => undefined);
    const resubscribed = channels.length ? subscriber.subscribe(...channels) : Promise.resolve();
    void resubscribed.then(
      () =>
        this.whenCommandReady(() => {
          if (this.live || subscriber.status !== 'ready') return;
          this.live = true;
          this.events.reconnected();
        }),
      () => undefined, // the connection dropped again: the next 'ready' retries
    );
  }

  ready(): Promise<void> {
    return this.subscriber.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => this.subscriber.once('ready', () => resolve()));
  }

  async subscribe(channel: string): Promise<void> {
    // While disconnected, fail at once rather than wait for the reconnect.
    const subscriber = this.subscriber;
    if (subscriber.status !== 'ready') throw new Error('Redis is not connected');
    this.channels.add(channel);
    // Nor wait for it when the connection drops before the reply (ioredis would resend it then).
    await subscribeOnce(subscriber, () => subscriber.subscribe(channel));
  }

  async unsubscribe(channel: string): Promise<void> {
    this.channels.delete(channel);
    // Never queued while disconnected: a subscribe to the same topic would wait behind it
    // (the hub runs a topic's operations in order). The reconnect drops it instead.
    if (this.subscriber.status !== 'ready') {
      this.releasedWhileDown.add(channel);
      return;
    }
    await this.subscriber.unsubscribe(channel);
  }

  close(): void {
    this.subscriber.disconnect();
  }
}
