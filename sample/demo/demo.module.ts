import { Module } from '@nestjs/common';
import { DemoAuthGuard } from './demo-auth.guard.js';
import { DemoController } from './demo.controller.js';

/** The demo streams (`demo/counter`, `demo/clock`, `demo/fail`, `demo/secure` and its ticket route, `demo/chat`, `demo/complete`). */
@Module({ controllers: [DemoController], providers: [DemoAuthGuard] })
export class DemoModule {}
