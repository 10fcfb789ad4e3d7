import 'reflect-metadata';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GrpcTransport } from '../lib/index.js';
import { AppModule } from './app.module.js';
import { startMetrics } from './metrics.js';

/**
 * Starts the sample app. Env: HOST (default 127.0.0.1), PORT (default 3000) and GRPC_PORT
 * (default 50051); 0 = a random port, printed. METRICS=1 serves OpenTelemetry metrics at
 * `GET /metrics` (Prometheus format). WAIT_FOR_PORT=1 waits for ports in use to be free.
 */
async function main(): Promise<void> {
  const host = process.env.HOST || '127.0.0.1';
  const port = Number(process.env.PORT ?? 3000);
  // The SDK must be registered before the app is created: the module picks its meter up then.
  const metrics = process.env.METRICS === '1' ? await startMetrics() : undefined;
  const logger = new Logger('Sample');
  let app: INestApplication;
  for (let attempt = 0; ; attempt++) {
    app = await NestFactory.create(AppModule, { forceCloseConnections: true });
    if (metrics) app.getHttpAdapter().get('/metrics', metrics);
    app.enableShutdownHooks();
    try {
      await app.listen(port, host);
      break;
    } catch (error) {
      // WAIT_FOR_PORT=1: a new instance started beside the one it replaces takes over its ports
      // as soon as they are free (a deploy on one machine).
      if (process.env.WAIT_FOR_PORT !== '1' || !/EADDRINUSE|address already in use/i.test(String(error))) throw error;
      await app.close().catch(() => undefined);
      if (attempt === 0) logger.log('Ports in use: waiting for them');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const address = (app.getHttpServer() as HttpServer).address() as AddressInfo;
  logger.log(`nestjs-longlink sample listening on http://${host}:${address.port}/`);
  logger.log(`WebSocket at ws://${host}:${address.port}/ws, gRPC at ${host}:${app.get(GrpcTransport).port}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
