import Table from 'cli-table3';
import { punch, readAssumedClassification, type PunchReport } from '../../api/punch.js';
import { checkExpectations, exitCodeFor, parseExpectations } from '../expect.js';
import { createProgress } from '../spinner.js';

/** Normalised options of `natscope punch`. */
export interface PunchCliOptions {
  readonly server: string;
  readonly alternatePort: number | null | undefined;
  readonly family?: 4 | 6;
  readonly json: boolean;
  readonly expect: readonly string[];
  readonly lifetime: boolean;
  readonly sustained: boolean;
  readonly maxLifetimeSeconds: number;
  readonly maxMappings: number;
  readonly assume?: string;
  readonly classifyWith?: string;
  readonly filteringLifetime: boolean;
}

/** The keys --expect accepts for punch. */
export const PUNCH_EXPECT_KEYS = ['punched', 'mappedAddress', 'alternatePortReachable', 'keepaliveSeconds', 'server'] as const;

/** Runs `natscope punch`; returns the exit code and what to print. */
export async function runPunchCommand(options: PunchCliOptions): Promise<{ exitCode: number; stdout: string }> {
  const expectations = parseExpectations(options.expect, PUNCH_EXPECT_KEYS);
  const assume = options.assume === undefined ? undefined : readAssumedClassification(options.assume);
  const progress = createProgress(!options.json);
  let report: PunchReport;
  try {
    report = await punch({
      server: options.server,
      alternatePort: options.alternatePort,
      ...(options.family === undefined ? {} : { family: options.family }),
      measureLifetime: options.lifetime,
      measureSustained: options.sustained,
      maxLifetimeSeconds: options.maxLifetimeSeconds,
      maxMappings: options.maxMappings,
      ...(assume === undefined ? {} : { assume }),
      ...(options.classifyWith === undefined ? {} : { classifyWith: options.classifyWith }),
      measureFilteringLifetime: options.filteringLifetime,
      onProgress: (p) => {
        const bracket = (name: string, b: { lowerMs: number; upperMs: number } | undefined): string => {
          if (b === undefined) return '';
          const lower = (b.lowerMs / 1000).toFixed(1);
          return Number.isFinite(b.upperMs) ? `; ${name} closes between ${lower} and ${(b.upperMs / 1000).toFixed(1)} s` : `; ${name} open at ${lower} s`;
        };
        const bound = options.maxLifetimeSeconds * 1.25 + 5;
        const left = Math.max(0, bound - p.elapsedMs / 1000);
        progress.update(`${p.stage}: ${(p.elapsedMs / 1000).toFixed(0)} s${bracket('single', p.lifetime)}${bracket('sustained', p.sustained)}${bracket('other port', p.filtering)}; at most ${left.toFixed(0)} s left`);
      },
    });
  } finally {
    progress.stop();
  }
  const results = checkExpectations(report as unknown as Record<string, unknown>, expectations);
  // Not reached, busy, or stopped early: inconclusive (3) unless an --expect on a decided field failed (1).
  const exitCode = exitCodeFor(results, report.punched === null || report.reason !== null);
  if (options.json) return { exitCode, stdout: JSON.stringify({ ...report, expectations: results }, null, 2) };
  const table = new Table({ style: { head: [], border: [] } });
  const life = (l: PunchReport['lifetime'], open: boolean): string =>
    l === null ? (open ? `still open at ${report.maxLifetimeSeconds} s` : 'not measured') : `${l.seconds} s (between ${l.lowerSeconds} and ${l.upperSeconds} s)`;
  table.push(
    { Punched: [report.punched === null ? 'unknown' : report.punched ? 'yes' : 'no'] },
    { 'Mapped address': [report.mappedAddress ?? 'none'] },
    { 'Other server port gets in': [report.alternatePortReachable === null ? 'not tested' : report.alternatePortReachable ? 'yes' : 'no'] },
    { 'Idle lifetime (one exchange)': [life(report.lifetime, report.openAtBound.lifetime)] },
    { 'Idle lifetime (sustained)': [life(report.sustainedLifetime, report.openAtBound.sustainedLifetime)] },
    ...(report.filteringLifetime === null ? [] : [{ 'Other port may get in for': [`${report.filteringLifetime.seconds} s (between ${report.filteringLifetime.lowerSeconds} and ${report.filteringLifetime.upperSeconds} s)`] }]),
    ...(report.classification === null ? [] : [{ 'Classified as': [`${report.classification.rfc3489} (mapping ${report.classification.mapping}, filtering ${report.classification.filtering})`] }]),
    { 'Keepalive every': [report.keepaliveSeconds === null ? 'n/a' : `${report.keepaliveSeconds} s`] },
    { Took: [`${(report.durationMs / 1000).toFixed(1)} s`] },
  );
  const lines = results.map((r) => (r.met ? `✔ expected ${r.key}=${r.value}` : `✘ expected ${r.key}=${r.value}, got ${JSON.stringify(r.actual)}`));
  return { exitCode, stdout: [`Echo server: ${report.server}`, table.toString(), report.explanation, ...lines].join('\n') };
}
