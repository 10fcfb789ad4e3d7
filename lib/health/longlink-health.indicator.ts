import { Inject, Injectable } from '@nestjs/common';
import { StreamTracker } from '../core/stream-tracker.js';
import { StreamHub } from '../hub/stream-hub.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../longlink.tokens.js';
import { GrpcTransport } from '../transports/grpc/grpc.transport.js';
import { SseTransport } from '../transports/sse/sse.transport.js';
import { WsTransport } from '../transports/ws/ws.transport.js';

/** A transport's state: `disabled` when the module does not serve it. */
export type TransportHealth = 'serving' | 'not_serving' | 'disabled';

/** What {@link LonglinkHealthIndicator.isHealthy} reports under its key. */
export interface LonglinkHealthDetails {
  /** `up` when every enabled transport serves, the hub's store answers and no shutdown is under way. */
  status: 'up' | 'down';
  /** A shutdown (deploy hand-over) is under way. */
  draining: boolean;
  /** Live subscriptions. */
  subscriptions: number;
  transports: { sse: TransportHealth; ws: TransportHealth; grpc: TransportHealth };
  hub: {
    adapter: 'memory' | 'redis';
    status: 'up' | 'down';
    /** Round trip to Redis (ms), when it answered. */
    latencyMs?: number;
    /** Why it is down. */
    error?: string;
  };
}

/**
 * A health indicator for `@nestjs/terminus` (or any health endpoint): each enabled
 * transport serving, the hub's Redis reachable (with its latency), no shutdown under way.
 * It returns Terminus' result shape without importing Terminus, so it costs nothing to
 * applications that do not use it.
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.longlink.isHealthy('longlink')]); }
 * ```
 *
 * @publicApi
 */
@Injectable()
export class LonglinkHealthIndicator {
  constructor(
    private readonly tracker: StreamTracker,
    private readonly hub: StreamHub,
    private readonly sse: SseTransport,
    private readonly ws: WsTransport,
    private readonly grpc: GrpcTransport,
    @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options: ResolvedLonglinkOptions,
  ) {}

  /**
   * `{ [key]: details }`; `details.status` is `down` when a transport does not serve, Redis
   * does not answer within `timeoutMs`, or the application is shutting down.
   */
  async isHealthy(key = 'longlink', { timeoutMs = 1000 }: { timeoutMs?: number } = {}): Promise<Record<string, LonglinkHealthDetails>> {
    const state = (enabled: boolean, serving: boolean): TransportHealth => (!enabled ? 'disabled' : serving ? 'serving' : 'not_serving');
    const transports = {
      sse: state(this.options.sse.enabled, this.sse.serving),
      ws: state(this.options.ws !== undefined, this.ws.serving),
      grpc: state(this.options.grpc !== undefined, this.grpc.serving),
    };
    const hub: LonglinkHealthDetails['hub'] = {
      adapter: this.options.hub.redis === undefined ? 'memory' : 'redis',
      status: 'up',
    };
    try {
      const latency = await this.hub.ping(timeoutMs);
      if (hub.adapter === 'redis') hub.latencyMs = Math.round(latency * 100) / 100;
    } catch (error) {
      hub.status = 'down';
      hub.error = error instanceof Error ? error.message : String(error);
    }
    const draining = this.tracker.isShuttingDown;
    const up = !draining && hub.status === 'up' && !Object.values(transports).includes('not_serving');
    return {
      [key]: { status: up ? 'up' : 'down', draining, subscriptions: this.tracker.size, transports, hub },
    };
  }
}
