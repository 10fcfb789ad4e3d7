import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

/** Starts the sample app. Env: HOST (default 127.0.0.1), PORT (default 3000; 0 = random). */
async function main(): Promise<void> {
  const host = process.env.HOST || '127.0.0.1';
  const port = Number(process.env.PORT ?? 3000);
  const app = await NestFactory.create(AppModule, { forceCloseConnections: true });
  app.enableShutdownHooks();
  await app.listen(port, host);
  const address = app.getHttpServer().address() as AddressInfo;
  new Logger('Sample').log(`nestjs-longlink sample listening on http://${host}:${address.port}/`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
