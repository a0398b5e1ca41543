import type { Clock } from '../probe/ports.js';

/** The monotonic system clock (performance.now), with setTimeout timers. */
export const systemClock: Clock = {
  nowMs: () => performance.now(),
  setTimer(delayMs, callback) {
    const timer = setTimeout(callback, delayMs);
    return () => clearTimeout(timer);
  },
};
