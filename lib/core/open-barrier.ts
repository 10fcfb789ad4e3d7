/**
 * When a subscription counts as held by the server. The pipeline accepts a call once the
 * handler's stream is subscribed; but a source may need a moment more before it delivers
 * everything that happens from then on (the hub subscribes its topic in the store first).
 * Such a source calls {@link holdOpenUntil} while it is being subscribed, and the call is
 * reported open (SSE head, the testing kit's `subscribe()`) only once that promise settles.
 *
 * The window is synchronous: the core collects holds only while it subscribes the handler's
 * stream, and operators such as `map` or `filter` subscribe their source within it. A source
 * subscribed later (inside `switchMap`, after a timer) is not waited for.
 */

/** Whether the core is inside a subscribe window, and the holds made in the innermost one (made on first hold). */
let windows = 0;
let pending: Promise<unknown>[] | undefined;

/**
 * For a stream source: the subscription being opened now is not to be reported open until
 * `ready` settles (a rejection: the source reports its own error). No effect outside the
 * core's subscribe window.
 */
export function holdOpenUntil(ready: Promise<unknown>): void {
  if (windows > 0) (pending ??= []).push(ready);
}

/**
 * Runs `subscribe` (which subscribes a handler's stream) and returns its result with a
 * promise of the holds made meanwhile: `undefined` when there was none (the call is open now).
 * The promise resolves when every hold has resolved and rejects when one rejects (the source
 * then reports its own error: do not report the call open).
 */
export function collectHolds<T>(subscribe: () => T): [result: T, held: Promise<unknown> | undefined] {
  const outer = pending;
  pending = undefined;
  windows++;
  try {
    const result = subscribe();
    return [result, pending === undefined ? undefined : Promise.all(pending)];
  } finally {
    windows--;
    pending = outer;
  }
}
