import type { Argv } from 'yargs';
import type { RateLimit } from '../../protocol/rate-limiter.js';
import { ExitCode, ExitError } from '../exit-codes.js';

export type { RateLimit } from '../../protocol/rate-limiter.js';

/** The flags `limitsOptions` adds, as yargs hands them to a handler. */
export interface LimitsArguments {
  readonly 'rate-limit'?: string | undefined;
  readonly 'max-sources'?: number | undefined;
}

/**
 * Parses `--rate-limit PACKETS_PER_S[,BURST]`: "0" turns the per-source limit off (labs, benchmarks);
 * without BURST the burst is one second of packets (at least 1). Usage errors name the flag and the text.
 */
export function parseRateLimitFlag(text: string, flag: string): RateLimit | 'off' {
  const name = flag.startsWith('--') ? flag : `--${flag}`;
  const fail = (why: string): never => {
    throw new ExitError(ExitCode.USAGE, `${name} must be PACKETS_PER_S[,BURST] (0 = off), not ${JSON.stringify(text)}: ${why}`);
  };
  const parts = text.trim().split(',');
  if (parts.length > 2) fail('more than one comma');
  const number = (part: string, what: string): number => {
    if (!/^\d+(\.\d+)?$/.test(part.trim())) fail(`${what} "${part}" is not a number`);
    return Number(part);
  };
  const packetsPerSecond = number(parts[0] ?? '', 'PACKETS_PER_S');
  if (packetsPerSecond === 0) {
    if (parts.length === 2) fail('a burst makes no sense when the limit is off (0)');
    return 'off';
  }
  const burst = parts[1] === undefined ? Math.max(1, Math.ceil(packetsPerSecond)) : number(parts[1], 'BURST');
  if (!Number.isInteger(burst) || burst < 1) fail(`BURST must be a whole number ≥ 1, not ${burst}`);
  return { packetsPerSecond, burst };
}

/** Parses `--max-sources N`: how many source IPs a server tracks at most (a whole number ≥ 1). */
export function parseMaxSourcesFlag(value: unknown, flag = '--max-sources'): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000_000) {
    throw new ExitError(ExitCode.USAGE, `${flag} must be a whole number from 1 to 100000000, not ${JSON.stringify(String(value))}`);
  }
  return n;
}

/** Adds `--rate-limit` and `--max-sources` to a server command; each command documents its own defaults. */
export function limitsOptions<T>(y: Argv<T>, defaults?: { rateLimit?: string; maxSources?: number }): Argv<T & LimitsArguments> {
  return y
    .option('rate-limit', {
      type: 'string',
      describe: `PACKETS_PER_S[,BURST] per source IP; 0 = off (labs, benchmarks)${defaults?.rateLimit === undefined ? '' : `; default ${defaults.rateLimit}`}`,
    })
    .option('max-sources', {
      type: 'number',
      describe: `most source IPs tracked at once (the least recently seen is forgotten)${defaults?.maxSources === undefined ? '' : `; default ${defaults.maxSources}`}`,
    }) as unknown as Argv<T & LimitsArguments>;
}

/** The limits a server command gets from its flags: undefined where the user said nothing (the protocol's default then). */
export function readLimits(args: LimitsArguments): { rateLimit?: RateLimit | 'off'; maxSources?: number } {
  return {
    ...(args['rate-limit'] === undefined ? {} : { rateLimit: parseRateLimitFlag(String(args['rate-limit']), '--rate-limit') }),
    ...(args['max-sources'] === undefined ? {} : { maxSources: parseMaxSourcesFlag(args['max-sources']) }),
  };
}
