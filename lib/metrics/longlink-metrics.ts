import { Inject, Injectable, Optional } from '@nestjs/common';
import type * as OtelApi from '@opentelemetry/api';
import type { ResolvedLonglinkOptions, SlowConsumerPolicy } from '../interfaces/longlink-options.interface.js';
import type { TransportName } from '../protocol/transport-name.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../longlink.tokens.js';
import { isRealMeter, loadOtelApi } from './otel.loader.js';

/** Meter name (instrumentation scope) of every instrument. */
export const LONGLINK_METER_NAME = 'nestjs-longlink';

type Attributes = Record<string, string>;

/**
 * Counters of one stream on one transport, summed over its subscriptions. The core's
 * backpressure loop bumps the plain fields (no OpenTelemetry call per event); observable
 * instruments read them when metrics are collected.
 */
export class StreamStats {
  events = 0;
  bytes = 0;
  dropped = 0;
  slowDisconnects = 0;
  constructor(
    readonly attributes: Attributes,
    readonly policy: SlowConsumerPolicy,
    private readonly metrics: LonglinkMetrics,
  ) {}

  /** The subscription got its first event, ended, or was refused, `ms` after it started. */
  subscribed(ms: number, refusalCode?: string): void {
    this.metrics.recordSubscribe(this.attributes, ms, refusalCode);
  }
}

/**
 * The module's OpenTelemetry instruments (see README, "Metrics"). `@opentelemetry/api` is an
 * optional peer: without it, or without an SDK registered (or `metrics.meterProvider` given)
 * when the module starts, every method is a no-op and the core's loop skips its counting.
 *
 * @publicApi
 */
@Injectable()
export class LonglinkMetrics {
  /** Whether instruments are recording. */
  readonly enabled: boolean;
  private readonly stats = new Map<string, StreamStats>();
  private connections: OtelApi.UpDownCounter | undefined;
  private subscriptions: OtelApi.UpDownCounter | undefined;
  private refusals: OtelApi.Counter | undefined;
  private subscribeDuration: OtelApi.Histogram | undefined;
  private hubPublishes: OtelApi.Counter | undefined;
  private hubErrors: OtelApi.Counter | undefined;
  private hubReconnects: OtelApi.Counter | undefined;

  constructor(@Optional() @Inject(LONGLINK_RESOLVED_OPTIONS) options?: ResolvedLonglinkOptions) {
    const config = options?.metrics ?? { enabled: undefined, meterProvider: undefined };
    const api = config.enabled === false ? undefined : loadOtelApi();
    const provider = (config.meterProvider as OtelApi.MeterProvider | undefined) ?? api?.metrics.getMeterProvider();
    const meter = provider?.getMeter(LONGLINK_METER_NAME);
    this.enabled = !!api && !!meter && isRealMeter(api, meter);
    if (this.enabled) this.createInstruments(meter!);
  }

  private createInstruments(meter: OtelApi.Meter): void {
    this.connections = meter.createUpDownCounter('longlink.connections', {
      description: 'Open client connections: WebSocket connections, SSE responses and gRPC calls that carry streams',
      unit: '{connection}',
    });
    this.subscriptions = meter.createUpDownCounter('longlink.subscriptions', {
      description: 'Live subscriptions',
      unit: '{subscription}',
    });
    this.refusals = meter.createCounter('longlink.subscribe.refusals', {
      description: 'Subscriptions refused or failed before their first event, by error code',
      unit: '{subscription}',
    });
    this.subscribeDuration = meter.createHistogram('longlink.subscribe.duration', {
      description: 'Time from a subscribe request to its first event, its end or its refusal',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
    });
    this.hubPublishes = meter.createCounter('longlink.hub.publishes', {
      description: 'Events published to the hub (failed ones carry error.type)',
      unit: '{event}',
    });
    this.hubErrors = meter.createCounter('longlink.hub.errors', {
      description: 'Hub store failures: failed operations and lost connections (Redis)',
      unit: '{error}',
    });
    this.hubReconnects = meter.createCounter('longlink.hub.reconnects', {
      description: 'Hub store reconnections (Redis)',
      unit: '{reconnect}',
    });
    const observe = (name: string, description: string, unit: string, read: (s: StreamStats) => number, withPolicy = false): void => {
      meter.createObservableCounter(name, { description, unit }).addCallback((result) => {
        for (const s of this.stats.values()) {
          result.observe(read(s), withPolicy ? { ...s.attributes, 'longlink.policy': s.policy } : s.attributes);
        }
      });
    };
    observe('longlink.events.delivered', 'Events written to subscribers', '{event}', (s) => s.events);
    observe('longlink.bytes.written', 'Encoded event bytes written to subscribers', 'By', (s) => s.bytes);
    observe('longlink.events.dropped', 'Events dropped by the drop-oldest and latest policies', '{event}', (s) => s.dropped, true);
    observe(
      'longlink.slow_consumer.disconnects',
      'Subscriptions ended because the client read too slowly (disconnect policy)',
      '{subscription}',
      (s) => s.slowDisconnects,
    );
  }

  /** The counters of a stream on a transport; `undefined` when metrics are off. */
  streamStats(transport: TransportName, stream: string, policy: SlowConsumerPolicy): StreamStats | undefined {
    if (!this.enabled) return undefined;
    const key = `${transport}\0${stream}`;
    let stats = this.stats.get(key);
    if (!stats) {
      stats = new StreamStats({ 'longlink.transport': transport, 'longlink.stream': stream }, policy, this);
      this.stats.set(key, stats);
    }
    return stats;
  }

  /** A connection opened (`+1`) or closed (`-1`). */
  connection(transport: TransportName, delta: 1 | -1): void {
    this.connections?.add(delta, { 'longlink.transport': transport });
  }

  /** A subscription started (`+1`) or ended (`-1`). */
  subscription(stats: StreamStats | undefined, delta: 1 | -1): void {
    if (stats) this.subscriptions?.add(delta, stats.attributes);
  }

  /** A subscription refused before it reached the core's loop (unknown stream, shutdown, limits). */
  refused(transport: TransportName, stream: string, code: string): void {
    if (!this.enabled) return;
    this.refusals?.add(1, { 'longlink.transport': transport, 'longlink.stream': stream, 'error.type': code });
  }

  /** @internal */
  recordSubscribe(attributes: Attributes, ms: number, refusalCode?: string): void {
    this.subscribeDuration?.record(ms / 1000, refusalCode ? { ...attributes, 'error.type': refusalCode } : attributes);
    if (refusalCode) this.refusals?.add(1, { ...attributes, 'error.type': refusalCode });
  }

  /** A hub publish succeeded, or failed with `code`. */
  hubPublished(adapter: string, code?: string): void {
    this.hubPublishes?.add(1, code ? { 'longlink.hub.adapter': adapter, 'error.type': code } : { 'longlink.hub.adapter': adapter });
  }

  /** A hub store operation failed or its connection was lost. */
  hubError(adapter: string, operation: string): void {
    this.hubErrors?.add(1, { 'longlink.hub.adapter': adapter, 'longlink.hub.operation': operation });
  }

  /** The hub store reconnected. */
  hubReconnected(adapter: string): void {
    this.hubReconnects?.add(1, { 'longlink.hub.adapter': adapter });
  }
}
