import { describe, expect, it } from '@jest/globals';
import { parseMaxSourcesFlag, parseRateLimitFlag, readLimits } from '../../src/cli/options/limits.js';
import { ExitError } from '../../src/cli/exit-codes.js';

describe('parseRateLimitFlag', () => {
  it('reads PACKETS_PER_S,BURST', () => {
    expect(parseRateLimitFlag('200,1000', '--rate-limit')).toEqual({ packetsPerSecond: 200, burst: 1000 });
  });
  it('takes one second of packets as the burst when BURST is left out', () => {
    expect(parseRateLimitFlag('50', '--rate-limit')).toEqual({ packetsPerSecond: 50, burst: 50 });
    expect(parseRateLimitFlag('0.5', '--rate-limit')).toEqual({ packetsPerSecond: 0.5, burst: 1 });
  });
  it('turns the limit off with 0', () => {
    expect(parseRateLimitFlag('0', '--rate-limit')).toBe('off');
  });
  it.each([
    ['fast', /--rate-limit must be PACKETS_PER_S\[,BURST\] \(0 = off\), not "fast": PACKETS_PER_S "fast" is not a number/],
    ['10,0', /not "10,0": BURST must be a whole number ≥ 1, not 0/],
    ['10,2.5', /not "10,2.5": BURST must be a whole number ≥ 1, not 2.5/],
    ['-5', /not "-5": PACKETS_PER_S "-5" is not a number/],
    ['1,2,3', /not "1,2,3": more than one comma/],
    ['0,10', /not "0,10": a burst makes no sense when the limit is off/],
    ['', /not "": PACKETS_PER_S "" is not a number/],
  ])('rejects %j as a usage error that names the flag and the text', (text, message) => {
    expect(() => parseRateLimitFlag(text, 'echo-rate-limit')).toThrow(ExitError);
    expect(() => parseRateLimitFlag(text, '--rate-limit')).toThrow(message);
  });
  it('names the flag it was given, with or without dashes', () => {
    expect(() => parseRateLimitFlag('x', 'probe-rate')).toThrow(/^--probe-rate must be/);
  });
});

describe('parseMaxSourcesFlag and readLimits', () => {
  it('reads a whole number of sources and rejects the rest with the text', () => {
    expect(parseMaxSourcesFlag(5000)).toBe(5000);
    expect(() => parseMaxSourcesFlag('lots')).toThrow(/--max-sources must be a whole number from 1 to 100000000, not "lots"/);
    expect(() => parseMaxSourcesFlag(0)).toThrow(/not "0"/);
  });
  it('leaves out what the user did not say, so each server keeps its own defaults', () => {
    expect(readLimits({})).toEqual({});
    expect(readLimits({ 'rate-limit': '0', 'max-sources': 10 })).toEqual({ rateLimit: 'off', maxSources: 10 });
  });
});
