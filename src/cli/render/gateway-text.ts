import Table from 'cli-table3';
import type { GatewayReport } from '../../api/gateway.js';

const yesNo = (value: boolean | null | undefined): string => (value === true ? 'yes' : value === false ? 'no' : 'unknown');

/** One line on what the router offers, for a person at home. */
export function gatewayHeadline(report: GatewayReport): string {
  const canMap = [
    report.upnp.connected === true ? 'UPnP' : undefined,
    report.natPmp.canMap === true ? 'NAT-PMP' : undefined,
  ].filter(Boolean);
  const answering = [report.upnp.available ? 'UPnP' : undefined, report.natPmp.available ? 'NAT-PMP' : undefined, report.pcp.available ? 'PCP' : undefined].filter(Boolean);
  if (answering.length === 0) return `Your router (${report.gateway}) answers none of UPnP, NAT-PMP or PCP: programs cannot ask it to open a port.`;
  if (report.doubleNat === true) {
    return `Your router (${report.gateway}) speaks ${answering.join(', ')}, but it sits behind ${report.carrierNat === true ? "your provider's carrier-grade NAT" : 'another NAT'}: ports it opens are not reachable from the internet.`;
  }
  if (canMap.length === 0 && report.verify?.protocol !== undefined && report.verify.protocol !== null) return `Your router (${report.gateway}) opened a port with ${report.verify.protocol}.`;
  if (canMap.length === 0 && answering.length === 1 && report.pcp.available) return `Your router (${report.gateway}) answers PCP; only a mapping (--verify) tells whether it opens ports.`;
  if (canMap.length === 0) return `Your router (${report.gateway}) answers ${answering.join(', ')}, but refuses to open ports (see the reasons).`;
  return `Your router (${report.gateway}) can open ports for programs with ${canMap.join(', ')}.`;
}

/** Wraps `text` at spaces to `width` columns, continuing lines with `indent`. */
function wrap(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  const lead = /^\s*/.exec(text)?.[0] ?? '';
  let line = lead;
  for (const word of text.slice(lead.length).split(' ')) {
    if (line !== '' && [...line].length + 1 + [...word].length > width) {
      lines.push(line);
      line = `${indent}${word}`;
    } else {
      line = line.trim() === '' ? `${line}${word}` : `${line} ${word}`;
    }
  }
  if (line.trim() !== '') lines.push(line);
  return lines;
}

/** The text report; `columns` is the terminal width. Unknown fields are shown as "unknown". */
export function renderGatewayText(report: GatewayReport, columns = 80): string {
  const width = Math.max(60, Math.min(columns, 120));
  const table_ = renderTable(report, width);
  const text: string[] = [gatewayHeadline(report), '', table_];
  return [...text.slice(0, 2).flatMap((t) => (t === '' ? [''] : wrap(t, width))), table_, ...renderDetails(report).flatMap((t) => (t === '' ? [''] : wrap(t, width, t.startsWith('  ') ? '    ' : '  ')))].join('\n');
}

function renderTable(report: GatewayReport, width: number): string {
  // Five columns and six borders fill the width exactly.
  const reasonWidth = Math.max(20, width - (10 + 9 + 18 + 9) - 6);
  const table = new Table({
    head: ['protocol', 'answers', 'external address', 'can map', 'why'],
    colWidths: [10, 9, 18, 9, reasonWidth],
    wordWrap: true,
    style: { head: [], border: [] },
  });
  table.push(['UPnP-IGD', yesNo(report.upnp.available), report.upnp.externalAddress ?? '-', yesNo(report.upnp.connected), report.upnp.reason]);
  table.push(['NAT-PMP', yesNo(report.natPmp.available), report.natPmp.externalAddress ?? '-', yesNo(report.natPmp.canMap), report.natPmp.reason]);
  table.push(['PCP', yesNo(report.pcp.available), report.pcp.externalAddress ?? '-', report.verify?.protocol === 'pcp' ? 'yes' : 'unknown', report.pcp.reason]);
  return table.toString();
}

function renderDetails(report: GatewayReport): string[] {
  const lines: string[] = [];
  const device = [report.upnp.deviceName, report.upnp.manufacturer, report.upnp.model].filter((v) => v !== null && v !== undefined);
  if (device.length > 0) lines.push(`UPnP device: ${device.join(', ')}`);
  const epochs = [report.natPmp.epoch === null ? undefined : `NAT-PMP epoch ${report.natPmp.epoch} s`, report.pcp.epoch === null ? undefined : `PCP epoch ${report.pcp.epoch} s`].filter(Boolean);
  if (epochs.length > 0) lines.push(`Router uptime as it reports it: ${epochs.join(', ')}`);
  if (report.verify !== null) {
    const v = report.verify;
    const outcome = v.inboundArrived === true ? 'traffic ARRIVED through the mapping' : v.inboundArrived === false ? 'traffic did NOT arrive' : 'could not be tested';
    lines.push('', `Mapping test${v.protocol === null ? '' : ` (${v.protocol}, external port ${v.externalPort ?? '?'})`}: ${outcome}.`, `  ${v.reason}`);
    if (v.mappingRemoved !== null) lines.push(`  The test mapping was ${v.mappingRemoved ? 'deleted again' : 'NOT confirmed deleted (it expires by its lease)'}.`);
    if (v.inboundArrived === true && v.arrivedWithoutMapping === false) lines.push('  Control: the same probe to a socket without a mapping stayed out, so it was the mapping that let traffic in.');
  }
  lines.push('', `Double NAT: ${yesNo(report.doubleNat)}; carrier-grade NAT: ${yesNo(report.carrierNat)}`);
  for (const reason of report.reasons) lines.push(`  - ${reason}`);
  lines.push(`(${report.durationMs} ms)`);
  return lines;
}

/** The lines classify's text report gains from its gateway section (none when the router was not asked). */
export function renderGatewaySection(report: { readonly gateway?: GatewayReport | null; readonly doubleNat?: boolean | null }): string[] {
  if (report.gateway === undefined || report.gateway === null) return [];
  return ['', `Router: ${gatewayHeadline(report.gateway)}`, `Double NAT: ${yesNo(report.doubleNat)}${report.gateway.carrierNat === true ? " (your provider's carrier-grade NAT)" : ''}`, ...report.gateway.reasons.map((r) => `  - ${r}`)];
}
