/** Token-bucket limits: a sustained rate and a burst. */
export interface RateLimit {
  readonly packetsPerSecond: number;
  readonly burst: number;
}

/**
 * Per-source token buckets with a bounded table, Sans-IO (time is an argument).
 * When the table is full the least recently refilled source is forgotten, so a flood of
 * spoofed sources costs memory no more than `maxSources` entries.
 */
export class SourceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    private readonly limit: RateLimit,
    private readonly maxSources = 65_536,
  ) {}

  /** Takes one token for `source` at `nowMs`; false when the source is over its limit. */
  allow(source: string, nowMs: number): boolean {
    let bucket = this.buckets.get(source);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxSources) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      bucket = { tokens: this.limit.burst, atMs: nowMs };
    } else {
      const refill = (Math.max(0, nowMs - bucket.atMs) / 1000) * this.limit.packetsPerSecond;
      bucket = { tokens: Math.min(this.limit.burst, bucket.tokens + refill), atMs: nowMs };
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
