import { describe, expect, it } from 'vitest';
import { FrameQueue } from './frame-queue.js';

describe('FrameQueue', () => {
  it('hands frames back oldest first with their size and id', () => {
    const q = new FrameQueue<string>();
    q.push('a', 1, 'id-a');
    q.push('b', 2, undefined);
    expect(q.length).toBe(2);
    expect([q.headSize, q.headId]).toEqual([1, 'id-a']);
    expect(q.shift()).toBe('a');
    expect([q.headSize, q.headId]).toEqual([2, undefined]);
    expect(q.shift()).toBe('b');
    expect(q.length).toBe(0);
  });

  it('keeps order across the cut of its consumed prefix, and clear() empties it', () => {
    const q = new FrameQueue<number>();
    const out: number[] = [];
    for (let i = 0; i < 5000; i++) {
      q.push(i, i, String(i));
      if (i % 3 === 0) out.push(q.shift());
    }
    while (q.length > 0) {
      expect(q.headId).toBe(String(q.headSize));
      out.push(q.shift());
    }
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    q.push(7, 7, undefined);
    q.clear();
    expect(q.length).toBe(0);
  });
});
