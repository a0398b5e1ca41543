import type { Clock } from '../../src/probe/ports.js';

/** A manual clock: timers fire only when the test advances time. */
export class FakeClock implements Clock {
  private now = 0;
  private sequence = 0;
  private timers: Array<{ atMs: number; seq: number; callback: () => void }> = [];

  nowMs(): number {
    return this.now;
  }

  setTimer(delayMs: number, callback: () => void): () => void {
    const timer = { atMs: this.now + Math.max(0, delayMs), seq: this.sequence++, callback };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Number of timers waiting. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Fires the earliest timer (moving time to it); false when there is none. */
  fireNext(): boolean {
    if (this.timers.length === 0) return false;
    this.timers.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    const timer = this.timers.shift()!;
    this.now = Math.max(this.now, timer.atMs);
    timer.callback();
    return true;
  }

  /**
   * Runs timers in time order, letting promise callbacks run between them, until `promise` settles.
   * Fails if it has not settled by `limitMs` of fake time.
   */
  async run<T>(promise: Promise<T>, limitMs = 3_600_000): Promise<T> {
    let settled = false;
    const tracked = promise.finally(() => {
      settled = true;
    });
    for (;;) {
      await flushMicrotasks();
      if (settled) return tracked;
      if (this.now > limitMs) throw new Error(`still pending after ${limitMs} ms of fake time`);
      if (!this.fireNext()) {
        await flushMicrotasks();
        if (settled) return tracked;
        throw new Error('deadlock: the promise is pending and no timer is left');
      }
    }
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}
