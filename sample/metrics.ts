import type { IncomingMessage, ServerResponse } from 'node:http';

/** Serves `/metrics` in the Prometheus text format. */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Opt-in (env METRICS=1): registers an OpenTelemetry SDK `MeterProvider` with a Prometheus
 * exporter as the global one, before the app is created, so LonglinkModule's instruments
 * record. Returns the handler the app mounts at `GET /metrics`. In your own app, do the same
 * with your SDK setup (`@opentelemetry/sdk-node` or `sdk-metrics` plus an exporter).
 */
export async function startMetrics(): Promise<MetricsHandler> {
  const { metrics } = await import('@opentelemetry/api');
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  const exporter = new PrometheusExporter({ preventServerStart: true });
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));
  return (req, res) => exporter.getMetricsRequestHandler(req, res);
}
