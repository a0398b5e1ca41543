import { wrapParagraph } from './wrap.js';
import Table from 'cli-table3';
import type { P2pReport, P2pSideReport } from '../../api/p2p.js';

const TECHNIQUE_WORDS: Record<string, string> = {
  'simultaneous-open': 'both sides sending at the same moment',
  'port-prediction': "predicting the NAT's next port",
  birthday: 'the birthday spray (many sockets met by random probes)',
};

const PREDICTION_WORDS: Record<string, string> = {
  direct: 'a direct path',
  'port-prediction': 'a direct path by port prediction',
  birthday: 'a direct path by the birthday spray',
  'relay-needed': 'a relay is needed',
  unknown: 'nothing (a classification was unknown)',
};

/** The verdict in one plain sentence. */
export function p2pVerdict(report: P2pReport): string {
  if (report.error !== null) return `Inconclusive: ${report.error}.`;
  if (report.direct) {
    const how = report.technique === null ? '' : ` by ${TECHNIQUE_WORDS[report.technique] ?? report.technique}`;
    const when = report.timeToDirectMs === null ? '' : `, ${Math.round(report.timeToDirectMs)} ms after the agreed start`;
    return `Direct connection: your peer and you reach each other without a relay${how}${when}.`;
  }
  return `No direct connection: ${report.reason ?? 'no check crossed both ways'}.`;
}

function nat(side: P2pSideReport): string {
  const c = side.classification;
  if (c === null) return 'unknown';
  const allocation = c.portAllocation.pattern === 'sequential' ? `sequential ports, step ${c.portAllocation.delta ?? '?'}` : `${c.portAllocation.pattern} ports`;
  return `${c.rfc3489} (mapping ${c.mapping}, filtering ${c.filtering}, ${allocation})`;
}

/** The human report: the verdict, then a table; `width` is the terminal's (columns wrap to fit it). */
export function renderP2pText(report: P2pReport, width = 80): string {
  // cli-table3 widths include the cell padding; the three borders take a column each.
  const keyWidth = 24;
  const valueWidth = Math.max(20, width - keyWidth - 3);
  const table = new Table({ style: { head: [], border: [] }, colWidths: [keyWidth, valueWidth], wordWrap: true });
  const row = (key: string, value: string): void => {
    table.push([key, value]);
  };
  row('Direct', report.error !== null ? 'inconclusive' : report.direct ? 'yes' : 'no');
  if (report.pair !== null) {
    row('Your end', `${report.pair.local.address} (${report.pair.local.kind})`);
    row("Peer's end", `${report.pair.remote.address} (${report.pair.remote.kind})`);
  }
  if (report.technique !== null) row('Technique', report.technique);
  // Whole milliseconds, as in the verdict (the JSON keeps the measured fraction).
  if (report.timeToDirectMs !== null) row('Time to direct', `${Math.round(report.timeToDirectMs)} ms`);
  if (report.path !== null) row('Path', `${report.path.rttMs === null ? 'no RTT' : `RTT ${report.path.rttMs} ms`}, ${report.path.lossPercent}% lost`);
  const held = report.predictionHeld === null ? '' : report.predictionHeld ? ' (held)' : ' (did NOT hold)';
  row('Predicted', `${PREDICTION_WORDS[report.predicted] ?? report.predicted}${held}`);
  if (report.predictionReason !== null) row('Because', report.predictionReason);
  if (report.birthdayProbability !== null) row('Birthday chance', `${(report.birthdayProbability * 100).toFixed(1)}% at the budget`);
  row('Your NAT', nat(report.self));
  row("Peer's NAT", nat(report.peer));
  if (report.self.mappedAddress !== null) row('Your mapped address', report.self.mappedAddress);
  if (report.peer.mappedAddress !== null) row("Peer's mapped address", report.peer.mappedAddress);
  row('Checks sent', String(report.probesSent));
  row('Took', `${(report.durationMs / 1000).toFixed(1)} s`);
  return [wrapParagraph(p2pVerdict(report), width), table.toString()].join('\n');
}
