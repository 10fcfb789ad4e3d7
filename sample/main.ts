import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GrpcTransport } from '../lib/index.js';
import { AppModule } from './app.module.js';
import { startMetrics } from './metrics.js';

/**
 * Starts the sample app. Env: HOST (default 127.0.0.1), PORT (default 3000) and GRPC_PORT
 * (default 50051); 0 = a random port, printed. METRICS=1 serves OpenTelemetry metrics at
 * `GET /metrics` (Prometheus format).
 */
async function main(): Promise<void> {
  const host = process.env.HOST || '127.0.0.1';
  const port = Number(process.env.PORT ?? 3000);
  // The SDK must be registered before the app is created: the module picks its meter up then.
  const metrics = process.env.METRICS === '1' ? await startMetrics() : undefined;
  const app = await NestFactory.create(AppModule, { forceCloseConnections: true });
  if (metrics) app.getHttpAdapter().get('/metrics', metrics);
  app.enableShutdownHooks();
  await app.listen(port, host);
  const address = app.getHttpServer().address() as AddressInfo;
  const logger = new Logger('Sample');
  logger.log(`nestjs-longlink sample listening on http://${host}:${address.port}/`);
  logger.log(`WebSocket at ws://${host}:${address.port}/ws, gRPC at ${host}:${app.get(GrpcTransport).port}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
