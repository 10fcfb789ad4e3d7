import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { resolveLonglinkOptions } from '../core/longlink-options.js';
import { LonglinkMetrics } from './longlink-metrics.js';

/** Collects on demand. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

describe('LonglinkMetrics', () => {
  it('is off without an SDK: no counters for the core loop to bump (no cost on the hot path)', () => {
    const metrics = new LonglinkMetrics(resolveLonglinkOptions({}));
    expect(metrics.enabled).toBe(false);
    expect(metrics.streamStats('sse', 'a/b', 'disconnect')).toBeUndefined();
    metrics.refused('sse', 'a/b', 'NOT_FOUND'); // no-ops
    metrics.hubPublished('memory');
  });

  it('is off with metrics.enabled: false even with a provider', () => {
    const metrics = new LonglinkMetrics(resolveLonglinkOptions({ metrics: { enabled: false, meterProvider: new MeterProvider() } }));
    expect(metrics.enabled).toBe(false);
  });

  it('records into a given MeterProvider: observable counters read the shared stats', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const metrics = new LonglinkMetrics(resolveLonglinkOptions({ metrics: { meterProvider: provider } }));
    expect(metrics.enabled).toBe(true);
    const stats = metrics.streamStats('ws', 'demo/x', 'drop-oldest')!;
    expect(metrics.streamStats('ws', 'demo/x', 'drop-oldest')).toBe(stats); // one per (transport, stream)
    stats.events += 3;
    stats.bytes += 120;
    stats.dropped += 2;
    metrics.subscription(stats, 1);
    stats.subscribed(5, 'PERMISSION_DENIED');
    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const point = (name: string) => all.find((m) => m.descriptor.name === name)?.dataPoints[0];
    expect(point('longlink.events.delivered')).toMatchObject({ value: 3, attributes: { 'longlink.transport': 'ws', 'longlink.stream': 'demo/x' } });
    expect(point('longlink.bytes.written')?.value).toBe(120);
    expect(point('longlink.events.dropped')).toMatchObject({ value: 2, attributes: { 'longlink.policy': 'drop-oldest' } });
    expect(point('longlink.subscriptions')?.value).toBe(1);
    expect(point('longlink.subscribe.refusals')).toMatchObject({ value: 1, attributes: { 'error.type': 'PERMISSION_DENIED' } });
    expect(point('longlink.subscribe.duration')?.value).toMatchObject({ count: 1, sum: 0.005 });
    await provider.shutdown();
  });

  it('rejects a meterProvider that is not one', () => {
    expect(() => resolveLonglinkOptions({ metrics: { meterProvider: {} } })).toThrow(/metrics\.meterProvider/);
  });
});
