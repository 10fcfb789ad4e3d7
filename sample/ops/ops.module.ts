import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { OpsController } from './ops.controller.js';

/** `/health` (with `@nestjs/terminus`) and `/admin/subscriptions`. */
@Module({ imports: [TerminusModule], controllers: [OpsController] })
export class OpsModule {}
