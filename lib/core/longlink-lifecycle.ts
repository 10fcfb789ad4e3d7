import { Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { StreamInvoker } from './stream-invoker.js';
import { StreamRegistry } from './stream-registry.js';
import { StreamTracker } from './stream-tracker.js';

/** Startup checks and shutdown of every open stream. */
@Injectable()
export class LonglinkLifecycle implements OnModuleInit, BeforeApplicationShutdown {
  constructor(
    private readonly registry: StreamRegistry,
    private readonly invoker: StreamInvoker,
    private readonly tracker: StreamTracker,
  ) {}

  /** Discovers streams and builds each pipeline, so mistakes fail at bootstrap. */
  async onModuleInit(): Promise<void> {
    const defs = this.registry.all();
    await this.invoker.resolveClassPipes(defs);
    this.invoker.prepareAll(defs);
  }

  /**
   * Hands every open stream over (UNAVAILABLE with `retryAfterMs` and `lastEventId`) before
   * the servers close. Each transport also starts it (the first caller does the work), then
   * flushes and closes its own connections within `shutdown.drainMs`.
   */
  beforeApplicationShutdown(): void {
    this.tracker.shutdown();
  }
}
