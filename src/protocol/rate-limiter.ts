/** Token-bucket limits: a sustained rate and a burst. */
export interface RateLimit {
  readonly packetsPerSecond: number;
  readonly burst: number;
}

/** How many sources a limiter tracks unless told otherwise. */
export const DEFAULT_MAX_SOURCES = 65_536;

interface Bucket {
  tokens: number;
  atMs: number;
}

/**
 * Per-source token buckets with a bounded table, Sans-IO (time is an argument).
 * When the table is full the least recently seen source is forgotten, so a flood of
 * spoofed sources costs memory no more than `maxSources` entries. `'off'` allows everything and tracks nothing.
 */
export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit | 'off',
    private readonly maxSources = DEFAULT_MAX_SOURCES,
  ) {}

  /** Takes one token for `source` at `nowMs`; false when the source is over its limit. */
  allow(source: string, nowMs: number): boolean {
    const limit = this.limit;
    if (limit === 'off') return true;
    let bucket = this.buckets.get(source);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxSources) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      bucket = { tokens: limit.burst, atMs: nowMs };
    } else {
      const refill = (Math.max(0, nowMs - bucket.atMs) / 1000) * limit.packetsPerSecond;
      bucket.tokens = Math.min(limit.burst, bucket.tokens + refill);
      bucket.atMs = nowMs;
      this.buckets.delete(source); // re-insert: the Map's order is then least recently seen first
    }
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(source, bucket);
    return allowed;
  }

  /** How many sources it tracks. */
  get size(): number {
    return this.buckets.size;
  }
}
