import { Observable, share, timer } from 'rxjs';
import { tracked, type StreamEvent } from '../../lib/index.js';

type Tick = StreamEvent<{ t: number; v: number }>;

/** How many ticks a reconnecting client can resume from (5 s at 20/s). */
const HISTORY = 100;

/**
 * `demo/ticker`: a random walk, one value every 50 ms while anyone listens, ids a sequence
 * number; a client resuming within the last {@link HISTORY} ticks gets exactly what it missed.
 */
export class Ticker {
  /** Starts at the clock's milliseconds, so ids keep increasing across restarts of the server (20 ticks/s < 1000 ms/s). */
  private seq = Date.now();
  private value = 100;
  private readonly recent: Tick[] = [];
  private readonly live$ = timer(0, 50).pipe(
    (source) =>
      new Observable<Tick>((subscriber) =>
        source.subscribe(() => {
          this.value = Math.max(1, this.value + (Math.random() - 0.5) * 2);
          const tick = tracked(String(this.seq++), { t: Date.now(), v: Math.round(this.value * 100) / 100 });
          this.recent.push(tick);
          if (this.recent.length > HISTORY) this.recent.shift();
          subscriber.next(tick);
        }),
      ),
    share(),
  );

  stream(lastEventId: string | undefined): Observable<Tick> {
    return new Observable<Tick>((subscriber) => {
      let last = lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : -1;
      if (last >= 0) {
        for (const tick of this.recent) {
          if (Number(tick.id) > last) {
            subscriber.next(tick);
            last = Number(tick.id);
          }
        }
      }
      return this.live$.subscribe((tick) => {
        if (Number(tick.id) > last) subscriber.next(tick);
      });
    });
  }
}
