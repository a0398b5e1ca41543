import { ExitCode, ExitError } from './exit-codes.js';

/** How a numeric flag is checked. */
export interface NumberRule {
  /** What the value must be, for the message: "a positive number of ms". */
  readonly what: string;
  readonly min?: number;
  /** The smallest value is excluded (a positive number). */
  readonly above?: number;
  readonly max?: number;
  readonly integer?: boolean;
}

/**
 * A yargs `coerce` for a numeric flag declared as a string, so a bad value is named as the user typed it
 * ("--rto must be a positive number of ms, not \"abc\"") rather than as NaN. Bad values are usage errors (exit 2).
 */
export function numberFlag(name: string, rule: NumberRule): (value: unknown) => number {
  return (value: unknown): number => {
    if (Array.isArray(value)) throw new ExitError(ExitCode.USAGE, `--${name} was given ${value.length} times; give it once`);
    const text = String(value).trim();
    const n = text === '' ? Number.NaN : Number(text);
    const ok =
      Number.isFinite(n) &&
      (rule.integer !== true || Number.isInteger(n)) &&
      (rule.min === undefined || n >= rule.min) &&
      (rule.above === undefined || n > rule.above) &&
      (rule.max === undefined || n <= rule.max);
    if (!ok) throw new ExitError(ExitCode.USAGE, `--${name} must be ${rule.what}, not "${text}"`);
    return n;
  };
}

/** A port flag: a whole number 1-65535. */
export const portFlag = (name: string): ((value: unknown) => number) => numberFlag(name, { what: 'a port number 1-65535', integer: true, min: 1, max: 65535 });

/** An IP address flag (or undefined when not given). */
export function ipFlag(name: string, isIp: (text: string) => boolean): (value: unknown) => string | undefined {
  return (value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !isIp(value)) throw new ExitError(ExitCode.USAGE, `--${name} must be an IP address, not "${String(value)}"`);
    return value;
  };
}
