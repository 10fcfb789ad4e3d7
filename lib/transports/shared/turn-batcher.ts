/** What {@link TurnBatcher} needs of a socket (a `net.Socket`). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * One socket's batching state, kept by its owner (a WebSocket connection, an SSE writer):
 * plain fields on an object that exists anyway, so batching allocates nothing per socket.
 */
export interface TurnState {
  /** The socket the owner writes to. */
  readonly socket: Corkable;
  /** Writes in the current turn. */
  turnWrites: number;
  /** Whether the last turn with writes had more than one (a fast source). */
  bursty: boolean;
  /** Whether the batcher corked the socket this turn. */
  corked: boolean;
}

/** A fresh {@link TurnState} for `socket`, to spread into an owner or assign field by field. */
export function turnState(socket: Corkable): TurnState {
  return { socket, turnWrites: 0, bursty: false, corked: false };
}

/**
 * Coalesces the writes each socket gets within an event-loop turn, without delaying a lone
 * write. After a turn that wrote more than once to a socket (a burst: a fast source), that
 * socket is corked from the first write of each turn until the next tick, so a turn's frames
 * leave in one system call. After a quiet turn, the first write leaves at once (lowest
 * latency), and only the writes that follow it in the same turn are corked.
 *
 * Socket-level, so it lives with the transports. One per process: a single `nextTick` per
 * turn ends the turn of every socket written in it (not one callback per socket).
 */
export class TurnBatcher {
  private touched: TurnState[] = [];
  private scheduled = false;

  /** Call before each write to `state.socket`. */
  beforeWrite(state: TurnState): void {
    if (state.turnWrites++ === 0) {
      this.touched.push(state);
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.endTurn);
      }
      if (!state.bursty) return;
    } else if (state.corked) {
      return;
    }
    state.corked = true;
    state.socket.cork();
  }

  private readonly endTurn = (): void => {
    this.scheduled = false;
    const touched = this.touched;
    this.touched = [];
    for (const state of touched) {
      state.bursty = state.turnWrites > 1;
      state.turnWrites = 0;
      if (state.corked) {
        state.corked = false;
        state.socket.uncork();
      }
    }
  };
}

/** The process's one batcher, shared by the SSE and WebSocket transports. */
export const turnBatcher = new TurnBatcher();
