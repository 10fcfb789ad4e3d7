import { Module } from '@nestjs/common';
import { LonglinkModule } from '../lib/index.js';
import { DemoModule } from './demo/demo.module.js';
import { PageController } from './page.controller.js';

/** The sample application: the demo streams, served over SSE, and a live page at `/`. */
@Module({
  imports: [LonglinkModule.forRoot({ sse: { heartbeatMs: 15_000 } }), DemoModule],
  controllers: [PageController],
})
export class AppModule {}
