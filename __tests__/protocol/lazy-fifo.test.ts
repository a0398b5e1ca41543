import { describe, expect, it } from '@jest/globals';
import { LazyFifo } from '../../src/protocol/lazy-fifo.js';

describe('LazyFifo', () => {
  it('gives the oldest live item, skipping items that went stale, and stays small when most of it goes stale', () => {
    const alive = new Set<number>();
    const fifo = new LazyFifo<number>((n) => alive.has(n));
    for (let n = 0; n < 10_000; n += 1) {
      alive.add(n);
      fifo.push(n);
      // Every item but each tenth goes stale right away (a re-registration, a first probe).
      if (n % 10 !== 0) {
        alive.delete(n);
        fifo.staled();
      }
    }
    expect(fifo.peek()).toBe(0);
    alive.delete(0);
    fifo.staled();
    expect(fifo.peek()).toBe(10);
    expect((fifo as unknown as { items: number[] }).items.length).toBeLessThan(3000);
    for (const n of [...alive]) {
      alive.delete(n);
      fifo.staled();
    }
    expect(fifo.peek()).toBeUndefined();
  });
});
