import type { StreamException } from '../errors/stream-exception.js';
import type { StreamEvent } from '../interfaces/stream-event.interface.js';
import type { StreamWriter } from '../core/stream-writer.interface.js';
import { FRAME_OVERHEAD_BYTES } from '../core/stream-writer.interface.js';
import type { RecordedError, StreamRecorder } from './stream-recorder.js';

/**
 * The in-process "transport" of the testing kit: a {@link StreamWriter} that hands each event to
 * a recorder as its JSON would arrive on the wire (parsed again, so a `Date` becomes a string as
 * it would for a real client), and reports when the pipeline accepted the call. No socket: the
 * pump never sees backpressure.
 */
export class InProcessWriter implements StreamWriter<StreamEvent> {
  private closeFn: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly recorder: StreamRecorder,
    private readonly onOpened: () => void,
  ) {}

  frame(event: StreamEvent): StreamEvent {
    return event;
  }

  sizeOf(frame: StreamEvent): number {
    return frame.json.length + FRAME_OVERHEAD_BYTES;
  }

  write(event: StreamEvent): boolean {
    const data = JSON.parse(event.json) as unknown;
    if (event.kind === 'reset') {
      this.recorder.push({ type: 'reset', id: event.id, reason: String((data as { reason?: string } | null)?.reason ?? '') });
    } else {
      this.recorder.push({ type: 'next', id: event.id, data });
    }
    return true;
  }

  onDrain(): void {
    // Never full: write() always returns true.
  }

  onClose(fn: () => void): void {
    this.closeFn = fn;
  }

  opened(): void {
    this.onOpened();
  }

  end(error?: StreamException): void {
    this.closed = true;
    this.onOpened(); // settles a pending subscribe(): a refusal resolves it, the error is recorded below
    // As a client would see it: the body sent on the wire (bounded message, serialisable details).
    this.recorder.end(error ? (JSON.parse(JSON.stringify(error)) as RecordedError) : undefined);
  }

  overflow(error: StreamException): void {
    this.end(error);
  }

  /** The test unsubscribes: the pump tears the upstream down, as when a client goes away. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeFn?.();
  }
}
