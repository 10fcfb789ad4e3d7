import type {
  FlowControlOptions,
  LonglinkModuleOptions,
  ResolvedLonglinkOptions,
  SlowConsumerPolicy,
} from '../interfaces/longlink-options.interface.js';
import {
  DEFAULT_DISCONNECT_GRACE_MS,
  DEFAULT_MAX_QUEUE_BYTES,
  DEFAULT_SSE_COMMIT_DELAY_MS,
  DEFAULT_SSE_HEARTBEAT_MS,
  DEFAULT_SSE_RETRY_MS,
} from '../longlink.constants.js';

const POLICIES: readonly SlowConsumerPolicy[] = ['disconnect', 'drop-oldest', 'latest'];

/** Thrown at startup for invalid module or stream options. */
export class LonglinkConfigError extends Error {
  override readonly name = 'LonglinkConfigError';
}

function fail(path: string, expected: string, value: unknown): never {
  throw new LonglinkConfigError(
    `LonglinkModule: invalid option "${path}": expected ${expected}, got ${JSON.stringify(value) ?? String(value)}`,
  );
}

function checkObject(path: string, value: unknown, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'an object', value);
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new LonglinkConfigError(
        `LonglinkModule: unknown option "${path ? `${path}.` : ''}${key}" (known: ${keys.join(', ')})`,
      );
    }
  }
  return value as Record<string, unknown>;
}

function int(path: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(path, `an integer >= ${min}`, value);
  }
  return value;
}

function bool(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(path, 'a boolean', value);
  return value;
}

/** Validates flow control options; `base` supplies what is not given. */
export function resolveFlowControl(
  path: string,
  value: unknown,
  base: Required<FlowControlOptions>,
): Required<FlowControlOptions> {
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
  const root = checkObject('', options ?? {}, ['flowControl', 'sse', 'isGlobal']);
  const sse = checkObject('sse', root.sse, ['enabled', 'heartbeatMs', 'retryMs', 'commitDelayMs', 'disconnectGraceMs']);
  return {
    flowControl: resolveFlowControl('flowControl', root.flowControl, {
      maxQueueBytes: DEFAULT_MAX_QUEUE_BYTES,
      policy: 'disconnect',
    }),
    sse: {
      enabled: bool('sse.enabled', sse.enabled, true),
      heartbeatMs: int('sse.heartbeatMs', sse.heartbeatMs, DEFAULT_SSE_HEARTBEAT_MS, 0),
      retryMs: int('sse.retryMs', sse.retryMs, DEFAULT_SSE_RETRY_MS, 0),
      commitDelayMs: int('sse.commitDelayMs', sse.commitDelayMs, DEFAULT_SSE_COMMIT_DELAY_MS, 0),
      disconnectGraceMs: int('sse.disconnectGraceMs', sse.disconnectGraceMs, DEFAULT_DISCONNECT_GRACE_MS, 0),
    },
  };
}
