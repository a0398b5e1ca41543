/**
 * A seeded stand-in for Math.random (mulberry32: 32 bits of state, uniform in [0, 1)), so a test that injects
 * randomness — the birthday spray's port picks — replays the same run every time and a failure can be
 * reproduced from its seed.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  };
}
