import { describe, expect, it } from '@jest/globals';
import { LifetimeSearch } from '../../src/diagnose/lifetime-search.js';
import { simulateLifetimeSearch } from '../../src/bench/simulate-lifetime-search.js';

describe('LifetimeSearch against a simulated NAT with a known lifetime (fake time)', () => {
  it('finds every lifetime from 1 s to 600 s (each whole second, and each + 0.5 s) within max(1 s, 2%), in at most 1.25 L + 5 s, with at most 64 mappings', () => {
    const misses: string[] = [];
    let worstTimeRatio = 0;
    for (let tenths = 10; tenths <= 6000; tenths += 5) {
      const lifetimeMs = tenths * 100;
      const result = simulateLifetimeSearch(lifetimeMs, { maxLifetimeMs: 700_000 });
      const tolerance = Math.max(1000, 0.02 * lifetimeMs);
      const upper = result.upperMs ?? Infinity;
      const ok =
        result.lowerMs <= lifetimeMs + 60 &&
        upper >= lifetimeMs - 60 &&
        upper - result.lowerMs <= tolerance &&
        result.elapsedMs <= 1.25 * lifetimeMs + 5000 &&
        result.peakNatMappings <= 64;
      worstTimeRatio = Math.max(worstTimeRatio, (result.elapsedMs - 5000) / lifetimeMs);
      if (!ok) misses.push(`L=${lifetimeMs} ms: [${result.lowerMs}, ${upper}] in ${result.elapsedMs} ms, ${result.peakNatMappings} mappings`);
    }
    expect(misses).toEqual([]);
    expect(worstTimeRatio).toBeLessThanOrEqual(1.25);
  });

  it('with a quota of 16 mappings it still brackets a 30 s lifetime', () => {
    const result = simulateLifetimeSearch(30_000, { maxSockets: 16 });
    expect(result.peakNatMappings).toBeLessThanOrEqual(16);
    expect(result.lowerMs).toBeLessThanOrEqual(30_000 + 60);
    expect(result.upperMs).toBeGreaterThanOrEqual(30_000 - 60);
  });

  it('reports a hole still open at --max-lifetime as upperMs null', () => {
    const result = simulateLifetimeSearch(900_000, { maxLifetimeMs: 60_000 });
    expect(result.upperMs).toBeNull();
    expect(result.lowerMs).toBeGreaterThanOrEqual(60_000);
    expect(result.elapsedMs).toBeLessThan(80_000);
  });

  it('refuses a quota too small to search with', () => {
    expect(() => new LifetimeSearch({ maxSockets: 2 }, 0)).toThrow(/at least 4 sockets/);
  });
});
