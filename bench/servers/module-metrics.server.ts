import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import type { BenchServer } from './bench-server.interface.js';
import { ModuleServer } from './module.server.js';

/** How often the reader collects during a run: more often than a typical 15 s Prometheus scrape, so collection shows. */
const EXPORT_INTERVAL_MS = 1000;

/**
 * nestjs-longlink with metrics ON: a real `@opentelemetry/sdk-metrics` MeterProvider, registered
 * globally before the app is created (as the README tells users to), with a periodic reader
 * collecting into memory every second. Otherwise the same server as {@link ModuleServer}.
 */
export class ModuleMetricsServer implements BenchServer {
  private readonly reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: EXPORT_INTERVAL_MS,
  });
  private readonly provider = new MeterProvider({ readers: [this.reader] });
  private readonly inner = new ModuleServer();

  async start(): Promise<{ http: number; grpc: number }> {
    metrics.setGlobalMeterProvider(this.provider);
    const ports = await this.inner.start();
    if (!this.inner.metricsEnabled()) throw new Error('module-metrics: the module did not pick up the SDK MeterProvider');
    return ports;
  }

  publish(value: object): void {
    this.inner.publish(value);
  }

  emitOwn(make: () => object): void {
    this.inner.emitOwn(make);
  }

  subscriptions(): number {
    return this.inner.subscriptions();
  }

  async eventsCounted(): Promise<number> {
    const { resourceMetrics } = await this.reader.collect();
    let sum = 0;
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== 'longlink.events.delivered' || metric.dataPointType !== DataPointType.SUM) continue;
        for (const point of metric.dataPoints) sum += point.value;
      }
    }
    return sum;
  }

  async close(): Promise<void> {
    await this.inner.close();
    await this.provider.shutdown();
  }
}
