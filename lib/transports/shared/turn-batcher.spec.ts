import { describe, expect, it } from 'vitest';
import { TurnBatcher, turnState } from './turn-batcher.js';

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
    const b = new TurnBatcher();
    const t = turnState(s);
    b.beforeWrite(t);
    expect(s.depth).toBe(0);
    await nextTurn();
    expect(s.log).toEqual([]);
  });

  it('writes after the first in one turn are corked until the next tick', async () => {
    const s = socket();
    const b = new TurnBatcher();
    const t = turnState(s);
    b.beforeWrite(t);
    b.beforeWrite(t);
    b.beforeWrite(t);
    expect(s.log).toEqual(['cork']);
    await nextTurn();
    expect(s.log).toEqual(['cork', 'uncork']);
    expect(s.depth).toBe(0);
  });

  it('after a burst, the next turn is corked from its first write; after a quiet turn it is not', async () => {
    const s = socket();
    const b = new TurnBatcher();
    const t = turnState(s);
    b.beforeWrite(t);
    b.beforeWrite(t);
    await nextTurn();
    b.beforeWrite(t); // follows a burst: corked at once
    expect(s.depth).toBe(1);
    await nextTurn();
    expect(s.depth).toBe(0);
    b.beforeWrite(t); // the turn before wrote once: quiet again
    expect(s.depth).toBe(0);
    await nextTurn();
    expect(s.log).toEqual(['cork', 'uncork', 'cork', 'uncork']);
  });

  it('one batcher keeps each socket apart: a burst on one does not cork the other', async () => {
    const a = socket();
    const c = socket();
    const b = new TurnBatcher();
    const ta = turnState(a);
    const tc = turnState(c);
    b.beforeWrite(ta);
    b.beforeWrite(ta);
    b.beforeWrite(tc);
    expect([a.depth, c.depth]).toEqual([1, 0]);
    await nextTurn();
    expect([a.depth, c.depth]).toEqual([0, 0]);
    b.beforeWrite(ta); // bursty last turn
    b.beforeWrite(tc); // quiet last turn
    expect([a.depth, c.depth]).toEqual([1, 0]);
    await nextTurn();
    expect(a.log).toEqual(['cork', 'uncork', 'cork', 'uncork']);
    expect(c.log).toEqual([]);
  });
});
