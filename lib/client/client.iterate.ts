import type { Observable } from 'rxjs';

/** An Observable as an async iterator: values are queued until read; `return()` (a `break`) unsubscribes. */
export function iterate<T>(source: Observable<T>): AsyncIterableIterator<T> {
  const queue: IteratorResult<T>[] = [];
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const push = (r?: IteratorResult<T>) => {
    if (r) queue.push(r);
    wake?.();
  };
  const subscription = source.subscribe({
    next: (value) => push({ value, done: false }),
    error: (error: unknown) => ((failure = { error }), push()),
    complete: () => push({ value: undefined, done: true }),
  });
  const it: AsyncIterableIterator<T> = {
    async next() {
      while (!queue.length && !failure) await new Promise<void>((r) => (wake = r));
      const r = queue.shift();
      if (r) return r.done ? (queue.unshift(r), r) : r;
      throw failure!.error;
    },
    async return() {
      subscription.unsubscribe();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}
