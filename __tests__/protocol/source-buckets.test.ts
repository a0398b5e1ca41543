import { describe, expect, it } from '@jest/globals';
import { SourceBuckets } from '../../src/protocol/source-buckets.js';

describe('SourceBuckets', () => {
  it('gives each key its burst, then its rate', () => {
    const buckets = new SourceBuckets({ packetsPerSecond: 10, burst: 5 }, 1024, 7);
    const taken = (key: string, atMs: number, tries: number) => Array.from({ length: tries }, () => buckets.allow(key, atMs)).filter(Boolean).length;
    expect(taken('192.0.2.1', 0, 20)).toBe(5);
    expect(taken('192.0.2.2', 0, 20)).toBe(5);
    expect(taken('192.0.2.1', 500, 20)).toBe(5);
    expect(taken('192.0.2.1', 600, 20)).toBe(1);
  });

  it('holds at most its slots however many sources send, and lets each new source in', () => {
    const buckets = new SourceBuckets({ packetsPerSecond: 1, burst: 1 }, 256, 7);
    for (let i = 0; i < 100_000; i += 1) expect(buckets.allow(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, i)).toBe(true);
    expect(buckets.size).toBeLessThanOrEqual(256);
  });
});
