import type {
  FlowControlOptions,
  LonglinkModuleOptions,
  ResolvedGrpcOptions,
  ResolvedInputOptions,
  ResolvedLonglinkOptions,
  ResolvedWsOptions,
  SlowConsumerPolicy,
} from '../interfaces/longlink-options.interface.js';
import * as D from '../longlink.defaults.js';
import { MAX_PARAMS_DEPTH_OPTION } from '../longlink.constants.js';
import { bool, checkObject, fail, int, strings } from './option-checks.js';
import { checkRedisOption } from './redis-option.checks.js';

const POLICIES: readonly SlowConsumerPolicy[] = ['disconnect', 'drop-oldest', 'latest'];

/** Validates flow control options; `base` supplies what is not given. */
export function resolveFlowControl(path: string, value: unknown, base: Required<FlowControlOptions>): Required<FlowControlOptions> {
  const o = checkObject(path, value, ['maxQueueBytes', 'policy']);
  if (o.policy !== undefined && !POLICIES.includes(o.policy as SlowConsumerPolicy)) {
    fail(`${path}.policy`, `one of ${POLICIES.join(', ')}`, o.policy);
  }
  return {
    maxQueueBytes: int(`${path}.maxQueueBytes`, o.maxQueueBytes, base.maxQueueBytes, 1),
    policy: (o.policy as SlowConsumerPolicy | undefined) ?? base.policy,
  };
}

/**
 * Validates module options and fills in defaults. Throws a {@link LonglinkConfigError}
 * naming the offending option.
 */
export function resolveLonglinkOptions(options: LonglinkModuleOptions | undefined): ResolvedLonglinkOptions {
  const root = checkObject('', options ?? {}, [
    'flowControl',
    'sse',
    'ws',
    'grpc',
    'hub',
    'tickets',
    'shutdown',
    'metrics',
    'maxParamsDepth',
    'input',
    'isGlobal',
  ]);
  const tickets = checkObject('tickets', root.tickets, ['secret', 'ttlMs', 'store']);
  if (tickets.secret !== undefined && !(Buffer.isBuffer(tickets.secret) || typeof tickets.secret === 'string')) {
    fail('tickets.secret', 'a string or a Buffer', '(not shown)');
  }
  if (tickets.secret !== undefined && Buffer.byteLength(tickets.secret) < 32) {
    fail('tickets.secret', 'at least 32 bytes', '(a shorter secret, not shown)');
  }
  if (tickets.store !== undefined && typeof (tickets.store as { consume?: unknown })?.consume !== 'function') {
    fail('tickets.store', 'an object with consume(id, expiresAt)', typeof tickets.store);
  }
  const hub = checkObject('hub', root.hub, [
    'redis',
    'historySize',
    'historyMaxAgeMs',
    'keyPrefix',
    'topicTtlMs',
    'maxTopics',
    'maxHistoryBytes',
    'presence',
    'redisWaitReplicas',
    'redisWaitTimeoutMs',
  ]);
  const presence = checkObject('hub.presence', hub.presence, ['ttlMs', 'graceMs', 'maxMembers', 'maxMetaBytes', 'maxUpdatesPerSecond']);
  checkRedisOption(hub.redis);
  const cluster = (hub.redis as { cluster?: unknown } | undefined)?.cluster;
  if (hub.keyPrefix !== undefined && (typeof hub.keyPrefix !== 'string' || hub.keyPrefix.length === 0)) {
    fail('hub.keyPrefix', 'a non-empty string', hub.keyPrefix);
  }
  if (cluster !== undefined && typeof hub.keyPrefix === 'string' && /[{}]/.test(hub.keyPrefix)) {
    fail('hub.keyPrefix', 'no "{" or "}" on a Redis Cluster (topics are the keys\' hash tags)', hub.keyPrefix);
  }
  const shutdown = checkObject('shutdown', root.shutdown, ['spreadMs', 'drainMs']);
  const metrics = checkObject('metrics', root.metrics, ['enabled', 'meterProvider']);
  const meterProvider = metrics.meterProvider as { getMeter?: unknown } | null | undefined;
  if (meterProvider !== undefined && typeof meterProvider?.getMeter !== 'function') {
    fail('metrics.meterProvider', 'an OpenTelemetry MeterProvider', metrics.meterProvider);
  }
  const sse = checkObject('sse', root.sse, [
    'enabled',
    'heartbeatMs',
    'retryMs',
    'commitDelayMs',
    'disconnectGraceMs',
    'stallTimeoutMs',
    'bodyTimeoutMs',
    'tcpKeepAliveMs',
    'inputPath',
    'inputForwardTimeoutMs',
  ]);
  return {
    flowControl: resolveFlowControl('flowControl', root.flowControl, {
      maxQueueBytes: D.DEFAULT_MAX_QUEUE_BYTES,
      policy: D.DEFAULT_SLOW_CONSUMER_POLICY,
    }),
    sse: {
      enabled: bool('sse.enabled', sse.enabled, D.DEFAULT_SSE_ENABLED),
      heartbeatMs: int('sse.heartbeatMs', sse.heartbeatMs, D.DEFAULT_SSE_HEARTBEAT_MS, 0),
      retryMs: int('sse.retryMs', sse.retryMs, D.DEFAULT_SSE_RETRY_MS, 0),
      commitDelayMs: int('sse.commitDelayMs', sse.commitDelayMs, D.DEFAULT_SSE_COMMIT_DELAY_MS, 0),
      disconnectGraceMs: int('sse.disconnectGraceMs', sse.disconnectGraceMs, D.DEFAULT_DISCONNECT_GRACE_MS, 0),
      stallTimeoutMs: int('sse.stallTimeoutMs', sse.stallTimeoutMs, D.DEFAULT_SSE_STALL_TIMEOUT_MS, 0),
      tcpKeepAliveMs: int('sse.tcpKeepAliveMs', sse.tcpKeepAliveMs, D.DEFAULT_SSE_TCP_KEEPALIVE_MS, 0),
      bodyTimeoutMs: int('sse.bodyTimeoutMs', sse.bodyTimeoutMs, D.DEFAULT_SSE_BODY_TIMEOUT_MS, 0),
      inputPath: inputPath(sse.inputPath),
      inputForwardTimeoutMs: int('sse.inputForwardTimeoutMs', sse.inputForwardTimeoutMs, D.DEFAULT_SSE_INPUT_FORWARD_TIMEOUT_MS, 1),
    },
    tickets: {
      ttlMs: int('tickets.ttlMs', tickets.ttlMs, D.DEFAULT_TICKET_TTL_MS, 1),
      secret: tickets.secret,
      store: tickets.store as ResolvedLonglinkOptions['tickets']['store'],
    },
    ws: resolveWsOptions(root.ws),
    grpc: resolveGrpcOptions(root.grpc),
    hub: {
      redis: hub.redis as string | Record<string, unknown> | undefined,
      historySize: int('hub.historySize', hub.historySize, D.DEFAULT_HUB_HISTORY_SIZE, 1),
      historyMaxAgeMs: int('hub.historyMaxAgeMs', hub.historyMaxAgeMs, D.DEFAULT_HUB_HISTORY_MAX_AGE_MS, 0),
      keyPrefix: hub.keyPrefix ?? D.DEFAULT_HUB_KEY_PREFIX,
      topicTtlMs: int('hub.topicTtlMs', hub.topicTtlMs, D.DEFAULT_HUB_TOPIC_TTL_MS, 0),
      maxTopics: int('hub.maxTopics', hub.maxTopics, D.DEFAULT_HUB_MAX_TOPICS, 1),
      redisWaitReplicas: int('hub.redisWaitReplicas', hub.redisWaitReplicas, D.DEFAULT_HUB_REDIS_WAIT_REPLICAS, 0),
      redisWaitTimeoutMs: int('hub.redisWaitTimeoutMs', hub.redisWaitTimeoutMs, D.DEFAULT_HUB_REDIS_WAIT_TIMEOUT_MS, 1),
      maxHistoryBytes: int('hub.maxHistoryBytes', hub.maxHistoryBytes, D.DEFAULT_HUB_MAX_HISTORY_BYTES, 1024),
      presence: {
        ttlMs: int('hub.presence.ttlMs', presence.ttlMs, D.DEFAULT_PRESENCE_TTL_MS, 100),
        graceMs: int('hub.presence.graceMs', presence.graceMs, D.DEFAULT_PRESENCE_GRACE_MS, 0),
        maxMembers: int('hub.presence.maxMembers', presence.maxMembers, D.DEFAULT_PRESENCE_MAX_MEMBERS, 1),
        maxMetaBytes: int('hub.presence.maxMetaBytes', presence.maxMetaBytes, D.DEFAULT_PRESENCE_MAX_META_BYTES, 2),
        maxUpdatesPerSecond: int('hub.presence.maxUpdatesPerSecond', presence.maxUpdatesPerSecond, D.DEFAULT_PRESENCE_MAX_UPDATES_PER_SECOND, 1),
      },
    },
    metrics: {
      enabled: metrics.enabled === undefined ? undefined : bool('metrics.enabled', metrics.enabled, true),
      meterProvider: metrics.meterProvider,
    },
    shutdown: {
      spreadMs: int('shutdown.spreadMs', shutdown.spreadMs, D.DEFAULT_SHUTDOWN_SPREAD_MS, 0),
      drainMs: int('shutdown.drainMs', shutdown.drainMs, D.DEFAULT_SHUTDOWN_DRAIN_MS, 0),
    },
    maxParamsDepth: paramsDepth(root.maxParamsDepth),
    input: resolveInputOptions(root.input),
  };
}

function resolveInputOptions(value: unknown): ResolvedInputOptions {
  const input = checkObject('input', value, ['maxMessageBytes', 'maxQueue', 'dedupWindowMs', 'dedupMaxIds', 'dedupMaxTotalIds', 'rateLimit']);
  let rateLimit: ResolvedInputOptions['rateLimit'];
  if (input.rateLimit !== undefined) {
    const rate = checkObject('input.rateLimit', input.rateLimit, ['perSecond', 'burst']);
    if (rate.perSecond === undefined) fail('input.rateLimit.perSecond', 'an integer >= 1', rate.perSecond);
    const perSecond = int('input.rateLimit.perSecond', rate.perSecond, 0, 1);
    rateLimit = { perSecond, burst: int('input.rateLimit.burst', rate.burst, perSecond, 1) };
  }
  return {
    maxMessageBytes: int('input.maxMessageBytes', input.maxMessageBytes, D.DEFAULT_INPUT_MAX_MESSAGE_BYTES, 2),
    maxQueue: int('input.maxQueue', input.maxQueue, D.DEFAULT_INPUT_MAX_QUEUE, 1),
    dedupWindowMs: int('input.dedupWindowMs', input.dedupWindowMs, D.DEFAULT_INPUT_DEDUP_WINDOW_MS, 1),
    dedupMaxIds: int('input.dedupMaxIds', input.dedupMaxIds, D.DEFAULT_INPUT_DEDUP_MAX_IDS, 1),
    dedupMaxTotalIds: int('input.dedupMaxTotalIds', input.dedupMaxTotalIds, D.DEFAULT_INPUT_DEDUP_MAX_TOTAL_IDS, 1),
    rateLimit,
  };
}

/** `sse.inputPath`: route segments of `A-Z a-z 0-9 . _ ~ -`, without leading or trailing `/`. */
function inputPath(value: unknown): string {
  if (value === undefined) return D.DEFAULT_SSE_INPUT_PATH;
  const path = typeof value === 'string' ? value.replace(/^\/+|\/+$/g, '') : '';
  if (!/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(path)) fail('sse.inputPath', 'a path of A-Z a-z 0-9 . _ ~ - segments', value);
  return path;
}

function paramsDepth(value: unknown): number {
  const depth = int('maxParamsDepth', value, D.DEFAULT_MAX_PARAMS_DEPTH, 1);
  if (depth > MAX_PARAMS_DEPTH_OPTION) fail('maxParamsDepth', `an integer from 1 to ${MAX_PARAMS_DEPTH_OPTION}`, value);
  return depth;
}

function resolveGrpcOptions(value: unknown): ResolvedGrpcOptions | undefined {
  if (value === undefined || value === false) return undefined;
  const grpc = checkObject('grpc', value === true ? {} : value, [
    'url',
    'protoPath',
    'package',
    'loader',
    'keepalive',
    'channelOptions',
    'credentials',
    'maxSendMessageLength',
    'maxReceiveMessageLength',
    'maxMetadataSize',
    'healthCheck',
    'healthFollowsHub',
    'reflection',
    'disconnectGraceMs',
  ]);
  const url = grpc.url ?? D.DEFAULT_GRPC_URL;
  if (typeof url !== 'string' || !/^.+:\d{1,5}$/.test(url)) fail('grpc.url', 'host:port', url);
  const protoPath = strings('grpc.protoPath', grpc.protoPath);
  const packages = strings('grpc.package', grpc.package);
  if (protoPath.length > 0 && packages.length === 0) fail('grpc.package', 'the package(s) of grpc.protoPath', grpc.package);
  for (const key of ['loader', 'keepalive', 'channelOptions'] as const) {
    const v = grpc[key];
    if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) fail(`grpc.${key}`, 'an object', v);
  }
  return {
    ...(grpc as object),
    url,
    protoPath,
    package: packages,
    healthCheck: bool('grpc.healthCheck', grpc.healthCheck, D.DEFAULT_GRPC_HEALTH_CHECK),
    healthFollowsHub: bool('grpc.healthFollowsHub', grpc.healthFollowsHub, D.DEFAULT_GRPC_HEALTH_FOLLOWS_HUB),
    reflection: bool('grpc.reflection', grpc.reflection, D.DEFAULT_GRPC_REFLECTION),
    disconnectGraceMs: int('grpc.disconnectGraceMs', grpc.disconnectGraceMs, D.DEFAULT_DISCONNECT_GRACE_MS, 0),
    maxReceiveMessageLength: int('grpc.maxReceiveMessageLength', grpc.maxReceiveMessageLength, D.DEFAULT_GRPC_MAX_RECEIVE_MESSAGE_LENGTH, 1),
    // HTTP/2 pings find peers that are gone without a FIN (a stopped or unplugged client).
    keepalive: {
      keepaliveTimeMs: D.DEFAULT_GRPC_KEEPALIVE_TIME_MS,
      keepaliveTimeoutMs: D.DEFAULT_GRPC_KEEPALIVE_TIMEOUT_MS,
      ...((grpc.keepalive as Record<string, number | boolean> | undefined) ?? {}),
    },
  };
}

function resolveWsOptions(value: unknown): ResolvedWsOptions | undefined {
  if (value === undefined || value === false) return undefined;
  const ws = checkObject('ws', value === true ? {} : value, [
    'path',
    'maxPayloadBytes',
    'maxSubscriptions',
    'maxInvalidMessages',
    'maxBufferedBytes',
    'heartbeatMs',
    'heartbeatTimeoutMs',
    'allowedOrigins',
    'connectionGuard',
    'connectionGuardAt',
    'requireInit',
    'initTimeoutMs',
  ]);
  const path = ws.path ?? D.DEFAULT_WS_PATH;
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(path)) fail('ws.path', 'a path starting with /', path);
  const origins = ws.allowedOrigins ?? [];
  if (origins !== '*' && !(Array.isArray(origins) && origins.every((o) => typeof o === 'string'))) {
    fail('ws.allowedOrigins', "an array of origins or '*'", origins);
  }
  const guard = ws.connectionGuard;
  if (guard !== undefined && typeof guard !== 'function' && !(guard && typeof (guard as { canActivate?: unknown }).canActivate === 'function')) {
    fail('ws.connectionGuard', 'a guard class or instance', guard);
  }
  const guardAt = ws.connectionGuardAt ?? D.DEFAULT_WS_CONNECTION_GUARD_AT;
  if (guardAt !== 'upgrade' && guardAt !== 'init') fail('ws.connectionGuardAt', "'upgrade' or 'init'", guardAt);
  return {
    path: path.length > 1 ? path.replace(/\/+$/, '') : path,
    maxPayloadBytes: int('ws.maxPayloadBytes', ws.maxPayloadBytes, D.DEFAULT_WS_MAX_PAYLOAD_BYTES, 256),
    maxSubscriptions: int('ws.maxSubscriptions', ws.maxSubscriptions, D.DEFAULT_WS_MAX_SUBSCRIPTIONS, 1),
    maxInvalidMessages: int('ws.maxInvalidMessages', ws.maxInvalidMessages, D.DEFAULT_WS_MAX_INVALID_MESSAGES, 0),
    maxBufferedBytes: int('ws.maxBufferedBytes', ws.maxBufferedBytes, D.DEFAULT_MAX_QUEUE_BYTES, 1),
    heartbeatMs: int('ws.heartbeatMs', ws.heartbeatMs, D.DEFAULT_WS_HEARTBEAT_MS, 0),
    heartbeatTimeoutMs: int('ws.heartbeatTimeoutMs', ws.heartbeatTimeoutMs, D.DEFAULT_WS_HEARTBEAT_TIMEOUT_MS, 1),
    allowedOrigins: origins,
    connectionGuard: guard as ResolvedWsOptions['connectionGuard'],
    connectionGuardAt: guardAt,
    requireInit: bool('ws.requireInit', ws.requireInit, D.DEFAULT_WS_REQUIRE_INIT) || guardAt === 'init',
    initTimeoutMs: int('ws.initTimeoutMs', ws.initTimeoutMs, D.DEFAULT_WS_INIT_TIMEOUT_MS, 1),
  };
}
