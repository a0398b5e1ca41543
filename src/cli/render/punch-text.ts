import type { PunchReport } from '../../api/punch.js';
import type { ExpectationResult } from '../expect.js';
import { renderFittedTable } from './fit-table.js';
import { renderExpectations } from './expectations-text.js';
import { wrapParagraph } from './wrap.js';

/** The human report of `natscope punch` at `width` columns: a table of findings, then the explanation. */
export function renderPunchText(report: PunchReport, width: number, expectations: readonly ExpectationResult[] = []): string {
  const life = (l: PunchReport['lifetime'], open: boolean): string =>
    l === null ? (open ? `still open at ${report.maxLifetimeSeconds} s` : 'not measured') : `${l.seconds} s (between ${l.lowerSeconds} and ${l.upperSeconds} s)`;
  const rows: string[][] = [
    ['Punched', report.punched === null ? 'unknown' : report.punched ? 'yes' : 'no'],
    ['Mapped address', report.mappedAddress ?? 'none'],
    ['Other server port gets in', report.alternatePortReachable === null ? 'not tested' : report.alternatePortReachable ? 'yes' : 'no'],
    ['Idle lifetime (one exchange)', life(report.lifetime, report.openAtBound.lifetime)],
    ['Idle lifetime (sustained)', life(report.sustainedLifetime, report.openAtBound.sustainedLifetime)],
    ...(report.filteringLifetime === null
      ? []
      : [['Other port may get in for', `${report.filteringLifetime.seconds} s (between ${report.filteringLifetime.lowerSeconds} and ${report.filteringLifetime.upperSeconds} s)`]]),
    ...(report.classification === null
      ? []
      : [['Classified as', `${report.classification.rfc3489} (mapping ${report.classification.mapping}, filtering ${report.classification.filtering})`]]),
    ['Keepalive every', report.keepaliveSeconds === null ? 'n/a' : `${report.keepaliveSeconds} s`],
    ['Took', `${(report.durationMs / 1000).toFixed(1)} s`],
  ];
  return [
    wrapParagraph(`Echo server: ${report.server}`, width),
    renderFittedTable(rows, width),
    wrapParagraph(report.explanation, width),
    ...renderExpectations(expectations).map((line) => wrapParagraph(line, width)),
  ].join('\n');
}
