import type { Argv } from 'yargs';
import type { RateLimit } from '../../protocol/rate-limiter.js';
import { ExitCode, ExitError } from '../exit-codes.js';

/** Burst when only a rate is given: five seconds' worth, as in the servers' default (200/s, burst 1000). */
const DEFAULT_BURST_SECONDS = 5;

/**
 * Parses `PACKETS_PER_S[,BURST]` of a `--rate-limit` flag: "0" turns the limit off (labs, benchmarks); without a
 * burst, the burst is five seconds' worth. Throws a usage error naming `flag` and the text.
 */
export function parseRateLimitFlag(text: string, flag: string): RateLimit | 'off' {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:,\s*(\d+)\s*)?$/.exec(text);
  const rate = match === null ? NaN : Number(match[1]);
  if (match === null || !Number.isFinite(rate)) {
    throw new ExitError(ExitCode.USAGE, `${flag} must be PACKETS_PER_S[,BURST] (0 = off), e.g. 200,1000, not ${JSON.stringify(text)}`);
  }
  if (rate === 0) {
    if (match[2] !== undefined) throw new ExitError(ExitCode.USAGE, `${flag} 0 turns the limit off and takes no burst, not ${JSON.stringify(text)}`);
    return 'off';
  }
  const burst = match[2] === undefined ? Math.max(1, Math.ceil(rate * DEFAULT_BURST_SECONDS)) : Number(match[2]);
  if (burst < 1) throw new ExitError(ExitCode.USAGE, `${flag}: the burst must be at least 1 packet, not ${burst}`);
  return { packetsPerSecond: rate, burst };
}

/** Parses a `--max-sources` value: a whole number ≥ 1. */
export function parseMaxSourcesFlag(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ExitError(ExitCode.USAGE, `${flag} must be a whole number ≥ 1, not ${String(value)}`);
  return n;
}

/** Adds the operator's limit flags, `--rate-limit` and `--max-sources`, to a server command. */
export function limitsOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('rate-limit', { type: 'string', describe: 'per source IP (IPv6: per /64): PACKETS_PER_S[,BURST], 0 = off (default 200,1000)' })
    .option('max-sources', { type: 'number', describe: 'most source IPs tracked at once (default 65536)' });
}
