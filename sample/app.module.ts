import { Module } from '@nestjs/common';
import { LonglinkModule } from '../lib/index.js';
import { DemoModule } from './demo/demo.module.js';
import { PageController } from './page.controller.js';

/**
 * The sample application: the demo streams over SSE (`GET /demo/...`) and WebSocket
 * (`ws://HOST:PORT/ws`), and a live page at `/`.
 */
@Module({
  imports: [LonglinkModule.forRoot({ sse: { heartbeatMs: 15_000 }, ws: { path: '/ws' } }), DemoModule],
  controllers: [PageController],
})
export class AppModule {}
