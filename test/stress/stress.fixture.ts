import { fileURLToPath } from 'node:url';
import { Controller, Module, type INestApplication, type Type } from '@nestjs/common';
import { concat, interval, map, of } from 'rxjs';
import { LastEventId, LonglinkModule, Stream, StreamHub, StreamParams, type LonglinkModuleOptions } from '../../lib/index.js';
import { createHttpApp } from '../harness/sse.harness.js';

export const LONGLINK_PROTO = fileURLToPath(new URL('../../proto/longlink/v1/longlink.proto', import.meta.url));
export const CLIENT_SCRIPT = fileURLToPath(new URL('../fixtures/stoppable-client.mjs', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAD = 'x'.repeat(4096);

@Controller('stress')
class StressController {
  constructor(private readonly hub: StreamHub) {}

  /** A hub topic (`stress:<room>`), resumable. */
  @Stream('topic')
  topic(@StreamParams('room') room: string, @LastEventId() lastEventId?: string) {
    return this.hub.stream(`stress:${room}`, { lastEventId });
  }

  /** One event at once, then one every 50 ms. */
  @Stream('tick')
  tick() {
    return concat(of({ n: -1 }), interval(50).pipe(map((n) => ({ n }))));
  }

  /** Timestamped events every `ms` (default 5): for delivery latency. */
  @Stream('timed')
  timed(@StreamParams('ms') ms?: string) {
    // Sub-millisecond clock; clients in the same process compare with the same clock.
    return interval(Number(ms ?? 5)).pipe(map((n) => ({ n, at: performance.timeOrigin + performance.now() })));
  }

  /** ~4 MB/s of 4 KiB events: fills a stopped client's buffers fast. */
  @Stream('fast', { flowControl: { maxQueueBytes: 1024 * 1024, policy: 'drop-oldest' } })
  fast() {
    return interval(1).pipe(map((n) => ({ n, pad: PAD })));
  }
}

/** Liveness settings of the stress app: short, so stopped clients are found within seconds. */
export const STRESS_LIVENESS = {
  sseStallTimeoutMs: 1000,
  wsHeartbeatMs: 1000,
  wsHeartbeatTimeoutMs: 1000,
  grpcKeepalive: { keepaliveTimeMs: 1000, keepaliveTimeoutMs: 1000 },
};

export function stressOptions(extra: Partial<LonglinkModuleOptions> = {}): LonglinkModuleOptions {
  return {
    sse: { stallTimeoutMs: STRESS_LIVENESS.sseStallTimeoutMs },
    ws: {
      path: '/ws',
      heartbeatMs: STRESS_LIVENESS.wsHeartbeatMs,
      heartbeatTimeoutMs: STRESS_LIVENESS.wsHeartbeatTimeoutMs,
      maxInvalidMessages: 1_000_000,
    },
    grpc: { url: '127.0.0.1:0', keepalive: STRESS_LIVENESS.grpcKeepalive },
    ...extra,
  };
}

export function stressModule(options: LonglinkModuleOptions = stressOptions(), controllers: Type[] = []) {
  @Module({ imports: [LonglinkModule.forRoot(options)], controllers: [StressController, ...controllers] })
  class StressModule {}
  return StressModule;
}

export async function startStressApp(options?: LonglinkModuleOptions, controllers: Type[] = []): Promise<{ app: INestApplication; baseUrl: string }> {
  return createHttpApp('express', stressModule(options, controllers));
}
