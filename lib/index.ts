export { LonglinkModule } from './longlink.module.js';
export type { LonglinkForRootOptions, LonglinkForRootAsyncOptions } from './longlink.module.js';
export { LONGLINK_CONTEXT_TYPE, DEFAULT_MAX_QUEUE_BYTES } from './longlink.constants.js';
export { Stream } from './decorators/stream.decorator.js';
export type { StreamMetadata, StreamHandlerResult, TypedStreamDecorator } from './decorators/stream.decorator.js';
export { defineStream } from './contract/stream-contract.js';
export type { StreamContract, StreamParamsOf, StreamEventOf, StreamInputOf } from './contract/stream-contract.js';
export { StreamParams, LastEventId, StreamContext, StreamInput } from './decorators/stream-params.decorator.js';
export type { StreamInputParamOptions } from './decorators/stream-params.decorator.js';
export type { StreamInputMessage } from './core/input/subscription-input.js';
export { StreamEvent, tracked } from './interfaces/stream-event.interface.js';
export type { StreamCall, StreamHeaders } from './interfaces/stream-call.interface.js';
export type { TransportName } from './protocol/transport-name.js';
export type {
  LonglinkModuleOptions,
  FlowControlOptions,
  SlowConsumerPolicy,
  SseOptions,
  WsOptions,
  GrpcOptions,
  HubOptions,
  RedisClusterConfig,
  ShutdownOptions,
  MetricsOptions,
  StreamOptions,
  StreamSseOptions,
  InputOptions,
  StreamInputOptions,
} from './interfaces/longlink-options.interface.js';
export { StreamErrorCode, STREAM_ERROR_CODES, isStreamErrorCode } from './protocol/stream-error-code.js';
export { HTTP_STATUS_BY_CODE } from './protocol/http.protocol.js';
export { GRPC_STATUS_BY_CODE, GRPC_ERROR_CODE_TRAILER, GRPC_ERROR_DETAILS_TRAILER, GRPC_RETRY_AFTER_TRAILER } from './protocol/grpc.protocol.js';
export { WsCloseCode } from './protocol/ws.protocol.js';
export { StreamException, type StreamErrorBody, type ShutdownDetails } from './errors/stream-exception.js';
export { StreamExceptionFilter } from './errors/stream-exception.filter.js';
export { getStreamCall, isStreamContext, type StreamArgumentsHost } from './core/stream-call.js';
export { LonglinkConfigError } from './errors/longlink-config.error.js';
export { StreamTracker, type LiveSubscription } from './core/stream-tracker.js';
export { StreamTicketService } from './core/stream-ticket.service.js';
export { StreamTicketGuard } from './core/stream-ticket.guard.js';
export { InMemoryTicketStore } from './core/in-memory-ticket-store.js';
export type { StreamTicketOptions, StreamTicketStore, IssueStreamTicketOptions, StreamTicketClaims } from './interfaces/stream-ticket.interface.js';
export { LonglinkMetrics, LONGLINK_METER_NAME } from './metrics/longlink-metrics.js';
export { LonglinkHealthIndicator, type LonglinkHealthDetails, type TransportHealth } from './health/longlink-health.indicator.js';
export type { StreamHandle } from './core/pipe-to-writer.js';
export { WsTransport } from './transports/ws/ws.transport.js';
export type { WsUpgradeRequest } from './transports/ws/ws.upgrade-request.js';
export { GrpcTransport, LONGLINK_GRPC_SERVICE } from './transports/grpc/grpc.transport.js';
export { StreamHub, HUB_ADAPTER, type HubResetReason, type HubStreamOptions, type HubPublishOptions } from './hub/stream-hub.js';
export type { HubAdapter, HubAdapterEvents, HubHistory, HubIdempotency, HubPublished, HubRecord } from './hub/hub-adapter.interface.js';
export { InMemoryHubAdapter } from './hub/adapters/in-memory.hub-adapter.js';
export { RedisHubAdapter, type RedisHubAdapterOptions } from './hub/adapters/redis.hub-adapter.js';
export { formatHubEventId, parseHubEventId } from './hub/hub-event-id.js';
export { LonglinkAsyncApiModule, type AsyncApiServeOptions } from './asyncapi/asyncapi.module.js';
export type { PresenceEvent, PresenceHandle, PresenceMember, PresenceMeta, PresenceOptions } from './hub/presence/presence.interface.js';
export type { PresenceEntry, PresenceStore } from './hub/presence/presence-store.interface.js';
