import type { SlowConsumerPolicy } from './interfaces/longlink-options.interface.js';
import { SSE_INPUT_DEFAULT_PATH } from './protocol/input.protocol.js';

/*
 * The default of every module option, in one place: the option resolvers
 * (core/longlink-options.ts) and the code that runs without resolved options read these.
 * README's option table states the same values (checked by core/longlink-defaults.spec.ts).
 */

/** 1 MiB: default bytes queued per slow subscriber (`flowControl.maxQueueBytes`, `ws.maxBufferedBytes`). */
export const DEFAULT_MAX_QUEUE_BYTES = 1024 * 1024;
/** What happens when a slow subscriber's queue is full (`flowControl.policy`). */
export const DEFAULT_SLOW_CONSUMER_POLICY: SlowConsumerPolicy = 'disconnect';

/** SSE is served unless turned off (`sse.enabled`). */
export const DEFAULT_SSE_ENABLED = true;
export const DEFAULT_SSE_HEARTBEAT_MS = 15_000;
export const DEFAULT_SSE_RETRY_MS = 2_000;
export const DEFAULT_SSE_COMMIT_DELAY_MS = 50;
/** How long a slow client's last error may take before its SSE socket or gRPC stream is cut. */
export const DEFAULT_DISCONNECT_GRACE_MS = 1_000;
/** Path of the endpoint that takes client messages over SSE, under the global prefix (`sse.inputPath`). */
export const DEFAULT_SSE_INPUT_PATH = SSE_INPUT_DEFAULT_PATH;
/** How long an instance waits for the instance holding a channel to answer a forwarded message (`sse.inputForwardTimeoutMs`). */
export const DEFAULT_SSE_INPUT_FORWARD_TIMEOUT_MS = 5_000;
/** Default time a POST stream's whole body may take to arrive. */
export const DEFAULT_SSE_BODY_TIMEOUT_MS = 10_000;
/** Default largest body of a POST stream (`@Stream({ sse: { maxBodyBytes } })`). */
export const DEFAULT_SSE_MAX_BODY_BYTES = 64 * 1024;
/** An SSE response whose socket has not drained for this long while data waits is cut. */
export const DEFAULT_SSE_STALL_TIMEOUT_MS = 30_000;
/** TCP keepalive idle time on SSE sockets. */
export const DEFAULT_SSE_TCP_KEEPALIVE_MS = 30_000;

/** Default lifetime of a stream ticket. */
export const DEFAULT_TICKET_TTL_MS = 30_000;

/** Window over which clients' reconnect delays are spread at shutdown. */
export const DEFAULT_SHUTDOWN_SPREAD_MS = 5_000;
/** How long shutdown lets last messages flush before cutting connections. */
export const DEFAULT_SHUTDOWN_DRAIN_MS = 3_000;

/**
 * Default deepest nesting of stream params (and WebSocket init payloads) on every transport
 * (`maxParamsDepth`): the params object is level 1, each object or array inside it one more.
 * As Express's `json()`.
 */
export const DEFAULT_MAX_PARAMS_DEPTH = 64;

/** Address the gRPC server binds (`grpc.url`). */
export const DEFAULT_GRPC_URL = '127.0.0.1:50051';
/** Default largest gRPC request message (grpc-js' own default is 4 MiB). */
export const DEFAULT_GRPC_MAX_RECEIVE_MESSAGE_LENGTH = 256 * 1024;
/** Default gRPC HTTP/2 keepalive: a ping after this long without frames from the peer... */
export const DEFAULT_GRPC_KEEPALIVE_TIME_MS = 30_000;
/** ...and the connection is dropped if the ping is not answered within this. */
export const DEFAULT_GRPC_KEEPALIVE_TIMEOUT_MS = 10_000;
/** `grpc.health.v1.Health` is served (`grpc.healthCheck`). */
export const DEFAULT_GRPC_HEALTH_CHECK = true;
/** gRPC health ignores the hub's Redis connection (`grpc.healthFollowsHub`). */
export const DEFAULT_GRPC_HEALTH_FOLLOWS_HUB = false;
/** Server reflection is served (`grpc.reflection`). */
export const DEFAULT_GRPC_REFLECTION = true;

/** WebSocket endpoint path (`ws.path`). */
export const DEFAULT_WS_PATH = '/ws';
export const DEFAULT_WS_MAX_PAYLOAD_BYTES = 64 * 1024;
export const DEFAULT_WS_MAX_SUBSCRIPTIONS = 100;
export const DEFAULT_WS_MAX_INVALID_MESSAGES = 10;
export const DEFAULT_WS_HEARTBEAT_MS = 15_000;
export const DEFAULT_WS_HEARTBEAT_TIMEOUT_MS = 10_000;
/** Where the WebSocket connection guard runs (`ws.connectionGuardAt`). */
export const DEFAULT_WS_CONNECTION_GUARD_AT = 'upgrade';
/** Connections need not send an init message first (`ws.requireInit`). */
export const DEFAULT_WS_REQUIRE_INIT = false;
export const DEFAULT_WS_INIT_TIMEOUT_MS = 10_000;

/** Events kept per hub topic for resume (`hub.historySize`). */
export const DEFAULT_HUB_HISTORY_SIZE = 1000;
/** Hub history has no age limit (`hub.historyMaxAgeMs`, 0: none). */
export const DEFAULT_HUB_HISTORY_MAX_AGE_MS = 0;
/** Prefix of the hub's Redis keys and channels (`hub.keyPrefix`). */
export const DEFAULT_HUB_KEY_PREFIX = 'longlink:';
/** Redis topic history never expires (`hub.topicTtlMs`, 0: never). */
export const DEFAULT_HUB_TOPIC_TTL_MS = 0;
/** Topics the hub keeps (`hub.maxTopics`). */
export const DEFAULT_HUB_MAX_TOPICS = 10_000;
/** Publishes wait for no replica (`hub.redisWaitReplicas`, 0: asynchronous replication). */
export const DEFAULT_HUB_REDIS_WAIT_REPLICAS = 0;
/** How long a publish waits for its replicas (`hub.redisWaitTimeoutMs`). */
export const DEFAULT_HUB_REDIS_WAIT_TIMEOUT_MS = 1000;
/** 128 MiB: heap bytes the in-memory hub's history may take (`hub.maxHistoryBytes`). */
export const DEFAULT_HUB_MAX_HISTORY_BYTES = 128 * 1024 * 1024;
/** In memory: idempotency keys of `hub.publish(..., { idempotencyKey })` remembered at most (oldest forgotten first). */
export const DEFAULT_HUB_MAX_IDEMPOTENCY_KEYS = 100_000;
/** `hub.presence.ttlMs`: a presence entry's time to live on Redis, refreshed by its instance every third of it. */
export const DEFAULT_PRESENCE_TTL_MS = 15_000;
/** `hub.presence.graceMs`: how long a member who left stays listed, so a reconnect does not flap. */
export const DEFAULT_PRESENCE_GRACE_MS = 3000;
/** `hub.presence.maxMembers`: entries per topic. */
export const DEFAULT_PRESENCE_MAX_MEMBERS = 10_000;
/** `hub.presence.maxMetaBytes`: a meta's JSON size. */
export const DEFAULT_PRESENCE_MAX_META_BYTES = 1024;
/** `hub.presence.maxUpdatesPerSecond`: meta updates per subscription. */
export const DEFAULT_PRESENCE_MAX_UPDATES_PER_SECOND = 10;

/** `input.maxMessageBytes`: a client message's size as received. */
export const DEFAULT_INPUT_MAX_MESSAGE_BYTES = 64 * 1024;
/** `input.maxQueue`: client messages a subscription queues before its transport pushes back. */
export const DEFAULT_INPUT_MAX_QUEUE = 64;
/** `input.dedupWindowMs`: how long acked message ids are remembered. */
export const DEFAULT_INPUT_DEDUP_WINDOW_MS = 600_000;
/** `input.dedupMaxIds`: ids remembered per channel. */
export const DEFAULT_INPUT_DEDUP_MAX_IDS = 10_000;
/** `input.dedupMaxTotalIds`: ids the in-memory store remembers across channels. */
export const DEFAULT_INPUT_DEDUP_MAX_TOTAL_IDS = 200_000;
/** On Redis: how long a channel's holder registration lives without a refresh (refreshed every third of it). */
export const DEFAULT_INPUT_CHANNEL_TTL_MS = 15_000;
