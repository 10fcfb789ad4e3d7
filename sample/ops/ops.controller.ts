import { Controller, Get, UseGuards } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { LonglinkHealthIndicator, StreamTracker, type LiveSubscription } from '../../lib/index.js';
import { DemoAuthGuard } from '../demo/demo-auth.guard.js';

/** Operations endpoints of the sample: health for probes, and an admin view of live subscriptions. */
@Controller()
export class OpsController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly longlink: LonglinkHealthIndicator,
    private readonly tracker: StreamTracker,
  ) {}

  /** 200 when every transport serves and the hub's Redis answers; 503 otherwise and while draining. */
  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.longlink.isHealthy('longlink')]);
  }

  /**
   * Live subscriptions (stream, transport, start time, queued bytes). It tells who listens to
   * what: guard it (here the demo's bearer token, `Authorization: Bearer demo-token`).
   */
  @Get('admin/subscriptions')
  @UseGuards(DemoAuthGuard)
  subscriptions(): { count: number; subscriptions: LiveSubscription[] } {
    const subscriptions = this.tracker.subscriptions();
    return { count: subscriptions.length, subscriptions };
  }
}
