import type { ExpectationResult } from '../expect.js';

/** One line per --expect: met or not, and what the report said. */
export function renderExpectations(results: readonly ExpectationResult[]): string[] {
  return results.map((r) =>
    r.met ? `✔ expected ${r.key}=${r.value}` : `✘ expected ${r.key}=${r.value}, got ${JSON.stringify(r.actual)}${r.undecided ? ' (undecided)' : ''}`,
  );
}
