import { Inject, Injectable, Optional } from '@nestjs/common';
import { StreamRunner } from '../core/stream-runner.js';
import { StreamHub } from '../hub/stream-hub.js';
import type { ResolvedLonglinkOptions } from '../interfaces/longlink-options.interface.js';
import { LONGLINK_RESOLVED_OPTIONS } from '../longlink.tokens.js';

/** What the reporter uses of `grpc-health-check`'s `HealthImplementation`. */
export interface GrpcHealthStatuses {
  setStatus(service: string, status: 'SERVING' | 'NOT_SERVING'): void;
}

/**
 * The `grpc.health.v1` statuses of the gRPC server, following the module's state: every
 * served service (and `''`, the server) is `NOT_SERVING` from the start of a shutdown (the
 * core's one "shutting down" state), while the transport does not serve, and while the hub's
 * Redis is lost when `grpc.healthFollowsHub` is on. The gRPC transport hands it the health
 * service it registered; this is where the hub's state reaches gRPC, so no transport depends
 * on the hub.
 */
@Injectable()
export class GrpcHealthReporter {
  private health: GrpcHealthStatuses | undefined;
  private services: readonly string[] = [];
  private serving: () => boolean = () => false;
  private hubDown = false;
  private stopFollowingHub: (() => void) | undefined;

  constructor(
    private readonly runner: StreamRunner,
    @Inject(LONGLINK_RESOLVED_OPTIONS) private readonly options: ResolvedLonglinkOptions,
    @Optional() private readonly hub?: StreamHub,
  ) {}

  /**
   * Starts reporting into `health` for `services` (`''` is added), with `serving` telling
   * whether the transport accepts calls. Statuses change on shutdown, on the hub's connection
   * changes and when the transport calls {@link update}; `health` starts with all `SERVING`.
   */
  follow(health: GrpcHealthStatuses | undefined, services: readonly string[], serving: () => boolean): void {
    this.health = health;
    this.services = ['', ...services];
    this.serving = serving;
    this.runner.onShutdown(() => this.update());
    if (this.options.grpc?.healthFollowsHub && this.hub && !this.stopFollowingHub) {
      this.stopFollowingHub = this.hub.onConnectionChange((connected) => {
        this.hubDown = !connected;
        this.update();
      });
    }
  }

  /** Sets every served service's status from the module's state (the transport calls it when it stops). */
  update(): void {
    const status = this.serving() && !this.hubDown ? 'SERVING' : 'NOT_SERVING';
    for (const service of this.services) this.health?.setStatus(service, status);
  }
}
