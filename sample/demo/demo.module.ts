import { Module } from '@nestjs/common';
import { DemoAuthGuard } from './demo-auth.guard.js';
import { ChatController } from './chat.controller.js';
import { DemoController } from './demo.controller.js';

/** The demo streams (`demo/counter`, `demo/clock`, `demo/fail`, `demo/secure` and its ticket route, `demo/complete`; `demo/chat` (two-way), `demo/presence`, `demo/echo` and the chat's HTTP routes). */
@Module({ controllers: [DemoController, ChatController], providers: [DemoAuthGuard] })
export class DemoModule {}
