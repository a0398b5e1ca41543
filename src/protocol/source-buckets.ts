import type { RateLimit } from './rate-limiter.js';

/**
 * Per-key token buckets in a fixed table, Sans-IO (time is an argument): `slots` direct-mapped slots in typed arrays,
 * so a datagram costs one hash and no allocation, and a flood of spoofed sources costs no more memory or time than a
 * flood from one. A newcomer takes over the slot it hashes to (under a random per-instance seed, so no one can aim
 * at a slot); the source it displaces starts again with a full burst, which only ever errs toward answering.
 * (SourceRateLimiter's Map in LRU order does the same on paper, but each eviction walks the holes V8 leaves at the
 * front of the Map: 25–30 µs per datagram from a new source.)
 */
export class SourceBuckets {
  private readonly keys: Float64Array;
  private readonly tokens: Float64Array;
  private readonly atMs: Float64Array;

  constructor(
    private readonly limit: RateLimit,
    private readonly slots = 65_536,
    private readonly seed = (Math.random() * 0x100000000) >>> 0,
  ) {
    this.keys = new Float64Array(slots).fill(-1);
    this.tokens = new Float64Array(slots);
    this.atMs = new Float64Array(slots);
  }

  /** Takes one token for `key` at `nowMs`; false when it is over its limit. */
  allow(key: string, nowMs: number): boolean {
    return this.allowHash(hashKey(this.seed, key), nowMs);
  }

  /** The same, for a key already hashed to a non-negative 53-bit number. */
  allowHash(hash: number, nowMs: number): boolean {
    const slot = hash % this.slots;
    const { packetsPerSecond, burst } = this.limit;
    let tokens = burst;
    if (this.keys[slot] === hash) tokens = Math.min(burst, (this.tokens[slot] as number) + (Math.max(0, nowMs - (this.atMs[slot] as number)) / 1000) * packetsPerSecond);
    this.keys[slot] = hash;
    this.atMs[slot] = nowMs;
    const allowed = tokens >= 1;
    this.tokens[slot] = allowed ? tokens - 1 : tokens;
    return allowed;
  }

  /** How many slots hold a key. */
  get size(): number {
    let count = 0;
    for (const key of this.keys) if (key >= 0) count += 1;
    return count;
  }
}

/** A seeded 53-bit hash of a text key: two 32-bit FNV-1a lanes. */
export function hashKey(seed: number, text: string): number {
  let a = 0x811c9dc5 ^ seed;
  let b = 0x5bd1e995 ^ seed;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ (c + i), 0x01000193);
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}
