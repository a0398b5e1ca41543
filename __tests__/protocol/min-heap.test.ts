import { describe, expect, it } from '@jest/globals';
import { MinHeap } from '../../src/protocol/min-heap.js';
import { seededRandom } from '../helpers/seeded-random.js';

describe('MinHeap', () => {
  it('gives items back in order, ties in the order they were pushed, whatever the order of pushes and pops', () => {
    const heap = new MinHeap<{ atMs: number; seq: number }>((a, b) => a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq));
    const model: Array<{ atMs: number; seq: number }> = [];
    const random = seededRandom(11);
    const popped: Array<{ atMs: number; seq: number }> = [];
    const expected: Array<{ atMs: number; seq: number }> = [];
    for (let i = 0; i < 5000; i += 1) {
      if (random() < 0.6 || heap.size === 0) {
        const item = { atMs: Math.floor(random() * 50), seq: i };
        heap.push(item);
        model.push(item);
      } else {
        model.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
        expected.push(model.shift()!);
        popped.push(heap.pop()!);
      }
      expect(heap.size).toBe(model.length);
    }
    while (heap.size > 0) popped.push(heap.pop()!);
    model.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    expected.push(...model);
    expect(popped).toEqual(expected);
    expect(heap.pop()).toBeUndefined();
    expect(heap.peek()).toBeUndefined();
  });
});
