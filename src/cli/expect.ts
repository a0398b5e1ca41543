import { ExitCode, ExitError } from './exit-codes.js';

/** One --expect KEY=VALUE. */
export interface Expectation {
  readonly key: string;
  readonly value: string;
}

/** The result of checking expectations against a report. */
export interface ExpectationResult extends Expectation {
  readonly actual: unknown;
  readonly met: boolean;
  /** True when the field is unknown/null: the run could not decide it. */
  readonly undecided: boolean;
}

/** Parses "KEY=VALUE" flags; a malformed one or an unknown key is a usage error. */
export function parseExpectations(texts: readonly string[], knownKeys: readonly string[]): Expectation[] {
  return texts.map((text) => {
    const match = /^([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)=(.*)$/.exec(text);
    if (match === null) throw new ExitError(ExitCode.USAGE, `--expect "${text}" is not KEY=VALUE`);
    const [, key = '', value = ''] = match;
    if (!knownKeys.includes(key)) {
      throw new ExitError(ExitCode.USAGE, `--expect ${key}: no such field; use one of ${knownKeys.join(', ')}`);
    }
    return { key, value };
  });
}

/** Compares each expectation with the report's field (dotted keys reach into objects: natPmp.available), as text ("true", "null", "full-cone"). */
export function checkExpectations(report: Readonly<Record<string, unknown>>, expectations: readonly Expectation[]): ExpectationResult[] {
  return expectations.map((expectation) => {
    const actual = expectation.key
      .split('.')
      .reduce<unknown>((value, part) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined), report);
    const text = actual === null || typeof actual !== 'object' ? String(actual) : JSON.stringify(actual);
    const undecided = actual === null || actual === 'unknown';
    return { ...expectation, actual, met: text === expectation.value, undecided };
  });
}

/** The exit code of a run: 1 when an expectation failed on a decided field, 3 when one was undecided. */
export function exitCodeFor(results: readonly ExpectationResult[], inconclusive: boolean): number {
  const failed = results.filter((r) => !r.met);
  if (failed.some((r) => !r.undecided)) return ExitCode.EXPECTATION_FAILED;
  if (failed.length > 0) return ExitCode.INCONCLUSIVE;
  if (results.length === 0 && inconclusive) return ExitCode.INCONCLUSIVE;
  return ExitCode.OK;
}
