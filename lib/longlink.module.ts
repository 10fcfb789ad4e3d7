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
import { HUB_ADAPTER, INPUT_DEDUP_STORE, INPUT_FORWARDER, LONGLINK_MODULE_OPTIONS, LONGLINK_RESOLVED_OPTIONS } from './longlink.tokens.js';
import type { InputForwarder } from './core/input/input-forwarder.interface.js';
import { InputDispatcher } from './core/input/input-dispatcher.js';
import { SseInputEndpoint } from './transports/sse/sse.input.js';
import { InMemoryInputDedup, type InputDedupStore } from './core/input/input-dedup.store.js';
import { InputChannelRegistry } from './core/input/input-channel.registry.js';
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
    {
      provide: INPUT_DEDUP_STORE,
      useFactory: ({ input }: ResolvedLonglinkOptions, adapter: HubAdapter): InputDedupStore =>
        adapter.inputDedup?.(input.dedupWindowMs) ?? new InMemoryInputDedup(input.dedupWindowMs, input.dedupMaxIds, input.dedupMaxTotalIds),
      inject: [LONGLINK_RESOLVED_OPTIONS, HUB_ADAPTER],
    },
    InputChannelRegistry,
    {
      provide: INPUT_FORWARDER,
      useFactory: ({ sse }: ResolvedLonglinkOptions, adapter: HubAdapter): InputForwarder | null =>
        adapter.inputForwarder?.(sse.inputForwardTimeoutMs) ?? null,
      inject: [LONGLINK_RESOLVED_OPTIONS, HUB_ADAPTER],
    },
    InputDispatcher,
    SseInputEndpoint,
    StreamHub,
    StreamTicketService,
    StreamTicketGuard,
    // A StreamException reaching an ordinary HTTP route answers its status and { code, message }.
    { provide: APP_FILTER, useClass: StreamExceptionFilter },
  ],
  exports: [
    LONGLINK_RESOLVED_OPTIONS,
    InputChannelRegistry,
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
