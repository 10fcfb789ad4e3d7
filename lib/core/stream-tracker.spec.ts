import { describe, expect, it } from 'vitest';
import type { StreamException } from '../errors/stream-exception.js';
import { resolveLonglinkOptions } from './longlink-options.js';
import type { StreamHandle } from './stream-handle.js';
import { StreamTracker } from './stream-tracker.js';

class FakeHandle implements StreamHandle {
  queuedBytes = 7;
  maxQueuedBytes = 9;
  droppedEvents = 0;
  closed = false;
  endError: StreamException | undefined;
  constructor(readonly lastEventId: string | undefined) {}
  close(error?: StreamException): void {
    this.closed = true;
    this.endError = error;
  }
}

describe('StreamTracker: the shutdown hand-over and introspection', () => {
  it('lists live subscriptions with stream, transport, start time and queued bytes', () => {
    const tracker = new StreamTracker(resolveLonglinkOptions({}));
    const before = Date.now();
    tracker.add(new FakeHandle('5'), { stream: 'demo/chat', transport: 'ws' });
    expect(tracker.subscriptions()).toEqual([
      expect.objectContaining({ stream: 'demo/chat', transport: 'ws', queuedBytes: 7, maxQueuedBytes: 9, lastEventId: '5' }),
    ]);
    expect(tracker.subscriptions()[0]!.startedAt.getTime()).toBeGreaterThanOrEqual(before);
  });

  it('shutdown: every handle gets UNAVAILABLE with retryAfterMs in [0, spreadMs) and its lastEventId; a group shares one delay; new ones are refused', () => {
    const tracker = new StreamTracker(resolveLonglinkOptions({ shutdown: { spreadMs: 10_000 } }));
    const connection = {};
    const grouped = [new FakeHandle('a'), new FakeHandle(undefined), new FakeHandle('c')];
    for (const h of grouped) tracker.add(h, { stream: 's', transport: 'ws', group: connection });
    const alone = Array.from({ length: 200 }, (_, i) => new FakeHandle(String(i)));
    for (const h of alone) tracker.add(h, { stream: 's', transport: 'sse' });
    let notified = 0;
    tracker.onShutdown(() => notified++);
    tracker.shutdown();
    tracker.shutdown(); // once
    expect(notified).toBe(1);
    expect(tracker.isShuttingDown).toBe(true);
    expect(tracker.size).toBe(0);
    const details = (h: FakeHandle) => h.endError!.toJSON().details as { retryAfterMs: number; lastEventId?: string };
    for (const h of [...grouped, ...alone]) {
      expect(h.closed).toBe(true);
      expect(h.endError!.code).toBe('UNAVAILABLE');
      expect(details(h).retryAfterMs).toBeGreaterThanOrEqual(0);
      expect(details(h).retryAfterMs).toBeLessThan(10_000);
      expect(details(h).lastEventId).toBe(h.lastEventId);
    }
    expect(new Set(grouped.map((h) => details(h).retryAfterMs)).size).toBe(1);
    // Spread, not one value: 200 independent delays over 10 s.
    const delays = alone.map((h) => details(h).retryAfterMs);
    expect(new Set(delays).size).toBeGreaterThan(150);
    expect(Math.min(...delays)).toBeLessThan(2500);
    expect(Math.max(...delays)).toBeGreaterThan(7500);
    const refusal = tracker.refusal().toJSON();
    expect(refusal).toMatchObject({ code: 'UNAVAILABLE', details: { retryAfterMs: expect.any(Number) as unknown } });
    expect(tracker.drainRemainingMs()).toBeLessThanOrEqual(3000);
  });

  it('spreadMs 0: everyone may come back at once', () => {
    const tracker = new StreamTracker(resolveLonglinkOptions({ shutdown: { spreadMs: 0 } }));
    const h = new FakeHandle(undefined);
    tracker.add(h, { stream: 's', transport: 'grpc' });
    tracker.shutdown();
    expect(h.endError!.toJSON().details).toEqual({ retryAfterMs: 0 });
  });
});
