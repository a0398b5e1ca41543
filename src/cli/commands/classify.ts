import { classify, type ClassifyReport } from '../../api/classify.js';
import { checkExpectations, exitCodeFor, parseExpectations, type ExpectationResult } from '../expect.js';
import { renderClassifyText } from '../render/classify-text.js';
import { renderGatewaySection } from '../render/gateway-text.js';
import { createProgress } from '../spinner.js';

/** Normalised options of `natscope classify`. */
export interface ClassifyCommandOptions {
  readonly servers: readonly string[];
  readonly family?: 4 | 6;
  readonly json: boolean;
  readonly expect: readonly string[];
  readonly rtoMs?: number;
  /** Ask the router too (--no-gateway skips it). */
  readonly gateway?: boolean;
}

/** The keys --expect accepts: the report's top-level scalar fields. */
export const CLASSIFY_EXPECT_KEYS = [
  'nat',
  'mapping',
  'filtering',
  'hairpinning',
  'algRewriting',
  'portPreservation',
  'rfc3489',
  'mappedAddress',
  'localAddress',
  'server',
  'serverSupportsRfc5780',
  'doubleNat',
] as const;

/** Runs `natscope classify`; returns the exit code and what to print. */
export async function runClassifyCommand(options: ClassifyCommandOptions): Promise<{ exitCode: number; stdout: string }> {
  const expectations = parseExpectations(options.expect, CLASSIFY_EXPECT_KEYS);
  const progress = createProgress(!options.json);
  let report: ClassifyReport;
  try {
    report = await classify({
      servers: options.servers,
      ...(options.family === undefined ? {} : { family: options.family }),
      onProgress: (p) => progress.update(p.text),
      ...(options.rtoMs === undefined ? {} : { policy: { rtoMs: options.rtoMs } }),
      gateway: options.gateway ?? false,
    });
  } finally {
    progress.stop();
  }
  const results = checkExpectations(report as unknown as Record<string, unknown>, expectations);
  const exitCode = exitCodeFor(results, report.rfc3489 === 'unknown');
  if (options.json) return { exitCode, stdout: JSON.stringify({ ...report, expectations: results }, null, 2) };
  return { exitCode, stdout: [renderClassifyText(report), ...renderGatewaySection(report), ...renderExpectations(results)].join('\n') };
}

function renderExpectations(results: readonly ExpectationResult[]): string[] {
  return results.map((r) =>
    r.met ? `✔ expected ${r.key}=${r.value}` : `✘ expected ${r.key}=${r.value}, got ${JSON.stringify(r.actual)}${r.undecided ? ' (undecided)' : ''}`,
  );
}

