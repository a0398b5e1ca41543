import type { PunchReport } from '../../api/punch.js';
import type { Io } from '../context.js';
import { checkExpectations, exitCodeFor, parseExpectations } from '../expect.js';
import { createProgress } from '../spinner.js';
import { checkFamilyMatchesAddresses } from './classify.js';

/** The schema of `natscope punch --json`. */
export const PUNCH_JSON_SCHEMA = 'natscope.punch/1';

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

/** Runs `natscope punch`; returns the exit code and what to print. Protocol code loads only here. */
export async function runPunchCommand(options: PunchCliOptions, io: Io): Promise<{ exitCode: number; stdout: string }> {
  const expectations = parseExpectations(options.expect, PUNCH_EXPECT_KEYS);
  const [{ punch, readAssumedClassification, DEFAULT_ECHO_PORT }, { parseHostPort }] = await Promise.all([import('../../api/punch.js'), import('../../platform/resolve-host.js')]);
  checkFamilyMatchesAddresses(options.family, [parseHostPort(options.server, DEFAULT_ECHO_PORT).host]);
  const assume = options.assume === undefined ? undefined : readAssumedClassification(options.assume);
  const progress = await createProgress(!options.json, io.progressStream, io.env, io.onInterrupt);
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
  const { renderPunchText } = await import('../render/punch-text.js');
  return { exitCode, stdout: renderPunchText(report, io.textWidth, results) };
}
