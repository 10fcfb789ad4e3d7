import { ConfigurableModuleBuilder, Module } from '@nestjs/common';
import { APP_FILTER, DiscoveryModule } from '@nestjs/core';
import { StreamExceptionFilter } from './errors/stream-exception.filter.js';
import { LonglinkLifecycle } from './core/longlink-lifecycle.js';
import { resolveLonglinkOptions } from './core/longlink-options.js';
import { StreamInvoker } from './core/stream-invoker.js';
import { StreamRegistry } from './core/stream-registry.js';
import { StreamRunner } from './core/stream-runner.js';
import { StreamTracker } from './core/stream-tracker.js';
import { StreamTicketGuard } from './core/stream-ticket.guard.js';
import { StreamTicketService } from './core/stream-ticket.service.js';
import { LonglinkMetrics } from './metrics/longlink-metrics.js';
import { LonglinkHealthIndicator } from './health/longlink-health.indicator.js';
import { GrpcHealthReporter } from './health/grpc-health.reporter.js';
import type { LonglinkModuleOptions } from './interfaces/longlink-options.interface.js';
import { HUB_ADAPTER, LONGLINK_MODULE_OPTIONS, LONGLINK_RESOLVED_OPTIONS } from './longlink.tokens.js';
import { SseTransport } from './transports/sse/sse.transport.js';
import { WsTransport } from './transports/ws/ws.transport.js';
import { GrpcTransport } from './transports/grpc/grpc.transport.js';
import { InMemoryHubAdapter } from './hub/adapters/in-memory.hub-adapter.js';
import { RedisHubAdapter } from './hub/adapters/redis.hub-adapter.js';
import type { HubAdapter } from './hub/hub-adapter.interface.js';
import { StreamHub } from './hub/stream-hub.js';
import type { ResolvedLonglinkOptions } from './interfaces/longlink-options.interface.js';

const builder = new ConfigurableModuleBuilder<LonglinkModuleOptions>({
  moduleName: 'Longlink',
  optionsInjectionToken: LONGLINK_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

export { LONGLINK_MODULE_OPTIONS };
/** Type of `forRoot()`'s argument. */
export type LonglinkForRootOptions = typeof builder.OPTIONS_TYPE;
/** Type of `forRootAsync()`'s argument. */
export type LonglinkForRootAsyncOptions = typeof builder.ASYNC_OPTIONS_TYPE;

/**
 * The nestjs-longlink module: discovers `@Stream()` handlers and serves them over the
 * enabled transports.
 *
 * ```ts
 * @Module({ imports: [LonglinkModule.forRoot({ sse: { heartbeatMs: 15_000 } })] })
 * class AppModule {}
 * ```
 *
 * Options are validated at startup; a mistake fails bootstrap with a message naming it.
 *
 * @publicApi
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: LONGLINK_RESOLVED_OPTIONS,
      useFactory: (options: LonglinkModuleOptions) => resolveLonglinkOptions(options),
      inject: [LONGLINK_MODULE_OPTIONS],
    },
    StreamRegistry,
    StreamInvoker,
    StreamTracker,
    StreamRunner,
    LonglinkMetrics,
    LonglinkHealthIndicator,
    GrpcHealthReporter,
    LonglinkLifecycle,
    SseTransport,
    WsTransport,
    GrpcTransport,
    {
      provide: HUB_ADAPTER,
      useFactory: ({ hub }: ResolvedLonglinkOptions): HubAdapter =>
        hub.redis === undefined
          ? new InMemoryHubAdapter(hub.historySize, hub.historyMaxAgeMs, hub.maxTopics, hub.maxHistoryBytes)
          : new RedisHubAdapter({ redis: hub.redis, ...hub }),
      inject: [LONGLINK_RESOLVED_OPTIONS],
    },
    StreamHub,
    StreamTicketService,
    StreamTicketGuard,
    // A StreamException reaching an ordinary HTTP route answers its status and { code, message }.
    { provide: APP_FILTER, useClass: StreamExceptionFilter },
  ],
  exports: [
    LONGLINK_RESOLVED_OPTIONS,
    StreamRegistry,
    StreamTracker,
    WsTransport,
    GrpcTransport,
    StreamHub,
    StreamTicketService,
    StreamTicketGuard,
    HUB_ADAPTER,
    LonglinkMetrics,
    LonglinkHealthIndicator,
  ],
})
export class LonglinkModule extends builder.ConfigurableModuleClass {
  /** Registers the module; every option is optional. */
  static override forRoot(options: LonglinkForRootOptions = {}) {
    return super.forRoot(options);
  }
}
