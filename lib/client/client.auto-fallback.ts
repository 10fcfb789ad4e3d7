import { later } from './client.options.js';
import type { TransportName } from './client.types.js';

/** What the fallback policy reads from and does to its client. */
export interface FallbackHost {
  readonly closed: boolean;
  /** The transport new subscriptions use now. */
  readonly transport: TransportName;
  /** Opens a WebSocket only to see whether one opens now. */
  probeWs(): Promise<boolean>;
  /** Moves every live subscription to `to`. */
  move(to: TransportName): void;
}

/**
 * `transport: 'auto'`: WebSocket first; SSE when a WebSocket does not open; back to WebSocket
 * once a background probe opens one.
 */
export class AutoFallback {
  /** Whether a WebSocket ever opened for this client, and how many attempts in a row did not since. */
  private wsWorked = false;
  private wsFailures = 0;
  /** The reconnect round of the last failure counted: one failure per connection attempt. */
  private failureRound = -1;
  private probeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly enabled: boolean,
    private readonly retryWsMs: number,
  ) {}

  /** A WebSocket subscription opened: WebSocket works here. */
  wsOpened(): void {
    this.wsWorked = true;
    this.wsFailures = 0;
  }

  /**
   * A subscription on `transport` ended with an error, `neverOpened` or not, in reconnect round
   * `round`: whether the client should fall back to SSE now.
   */
  shouldFallBack(transport: TransportName, neverOpened: boolean | undefined, round: number): boolean {
    if (!neverOpened || !this.enabled || transport !== 'ws') return false;
    // WebSocket never worked here (refused, blocked): SSE now. Once it has worked, a socket
    // that does not open is more likely a server restarting: retry it, fall back after 3 in a row.
    if (this.failureRound !== round) {
      this.failureRound = round;
      this.wsFailures++;
    }
    return !this.wsWorked || this.wsFailures >= 3;
  }

  /** The client is on SSE now: WebSocket is tried again in the background, every `autoRetryWsMs`. */
  probeInBackground(host: FallbackHost): void {
    clearTimeout(this.probeTimer);
    const probe = () => {
      if (host.closed || host.transport !== 'sse') return;
      host.probeWs().then(
        (ok) => {
          if (ok && !host.closed && host.transport === 'sse') host.move('ws');
          else if (!ok && !host.closed) this.probeTimer = later(probe, this.retryWsMs);
        },
        () => undefined,
      );
    };
    this.probeTimer = later(probe, this.retryWsMs);
  }

  /** Stops the background probe. */
  stop(): void {
    clearTimeout(this.probeTimer);
  }
}
