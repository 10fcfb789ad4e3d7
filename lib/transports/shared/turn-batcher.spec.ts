import { describe, expect, it } from 'vitest';
import { TurnBatcher } from './turn-batcher.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function socket() {
  const log: string[] = [];
  let depth = 0;
  return {
    log,
    get depth() {
      return depth;
    },
    cork: () => void (depth++, log.push('cork')),
    uncork: () => void (depth--, log.push('uncork')),
  };
}

describe('TurnBatcher', () => {
  it('a lone write of a quiet turn is not corked', async () => {
    const s = socket();
    const b = new TurnBatcher(s);
    b.beforeWrite();
    expect(s.depth).toBe(0);
    await nextTurn();
    expect(s.log).toEqual([]);
  });

  it('writes after the first in one turn are corked until the next tick', async () => {
    const s = socket();
    const b = new TurnBatcher(s);
    b.beforeWrite();
    b.beforeWrite();
    b.beforeWrite();
    expect(s.log).toEqual(['cork']);
    await nextTurn();
    expect(s.log).toEqual(['cork', 'uncork']);
    expect(s.depth).toBe(0);
  });

  it('after a burst, the next turn is corked from its first write; after a quiet turn it is not', async () => {
    const s = socket();
    const b = new TurnBatcher(s);
    b.beforeWrite();
    b.beforeWrite();
    await nextTurn();
    b.beforeWrite(); // follows a burst: corked at once
    expect(s.depth).toBe(1);
    await nextTurn();
    expect(s.depth).toBe(0);
    b.beforeWrite(); // the turn before wrote once: quiet again
    expect(s.depth).toBe(0);
    await nextTurn();
    expect(s.log).toEqual(['cork', 'uncork', 'cork', 'uncork']);
  });
});
