import Table from 'cli-table3';
import type { ClassifyReport } from '../../api/classify.js';
import type { Rfc3489Type } from '../../diagnose/verdict.js';

const LEGACY_NAMES: Record<Rfc3489Type, string> = {
  'open-internet': 'open internet',
  'full-cone': 'full cone',
  'restricted-cone': 'restricted cone',
  'port-restricted-cone': 'port-restricted cone',
  symmetric: 'symmetric',
  'symmetric-firewall': 'symmetric UDP firewall',
  'udp-blocked': 'UDP blocked',
  unknown: 'unknown',
};

/** What the verdict means for UDP hole punching, in plain words. */
export function holePunchingAdvice(report: ClassifyReport): string {
  switch (report.rfc3489) {
    case 'open-internet':
      return 'No NAT and no filtering: anyone can reach you directly. Peer-to-peer works with every peer.';
    case 'symmetric-firewall':
      return 'No NAT, but a firewall drops UDP you did not ask for. Hole punching works: once you send to a peer, its answers get in.';
    case 'full-cone':
      return 'The easiest NAT: once you have sent anything, anyone can reach your mapped address. Hole punching works with every peer.';
    case 'restricted-cone':
      return 'Your mapping is stable and your NAT lets in any port of an IP you have sent to. Hole punching works with every peer, symmetric NATs included.';
    case 'port-restricted-cone':
      return 'Your mapping is stable, but only the exact IP and port you sent to may answer. Hole punching works with peers behind cone NATs; with a peer behind a symmetric NAT it fails, and a relay (TURN) is needed.';
    case 'symmetric':
      return 'A hard NAT: you get a new mapping for every destination, so a peer cannot learn where to send. Hole punching works only with peers whose NAT filters by address alone or not at all (open, full or restricted cone); otherwise a relay (TURN) is needed.';
    case 'udp-blocked':
      return 'No STUN server answered over UDP: UDP looks blocked (or every server is down). Peer-to-peer UDP will not work; programs fall back to relays over TCP/TLS.';
    default:
      return 'The evidence is not enough for a verdict (see the reasons below); run again, or use an RFC 5780 server (natscope serve stun).';
  }
}

/** One line saying what the NAT is. */
export function headline(report: ClassifyReport): string {
  if (report.rfc3489 === 'udp-blocked') return 'UDP is blocked (no STUN server answered).';
  if (report.nat === false) return report.rfc3489 === 'open-internet' ? 'No NAT: you are on the open internet.' : 'No NAT, but a stateful firewall filters incoming UDP.';
  if (report.nat === null) return 'Could not tell whether there is a NAT.';
  return `Behind a NAT (RFC 3489: ${LEGACY_NAMES[report.rfc3489]}).`;
}

const yesNo = (value: boolean | null): string => (value === null ? 'unknown' : value ? 'yes' : 'no');

/** The human report: the tests and their evidence in a table, then the verdict in words. */
export function renderClassifyText(report: ClassifyReport): string {
  const tests = new Table({ head: ['Test', 'From', 'To', 'Change', 'Result', 'Answered from', 'Mapped address', 'Tries'], style: { head: [], border: [] } });
  for (const t of report.tests) {
    const change = t.changeRequest === null ? '' : [t.changeRequest.changeIp ? 'IP' : '', t.changeRequest.changePort ? 'port' : ''].filter(Boolean).join('+');
    const result = t.outcome === 'response' ? `answer${t.rttMs === null ? '' : ` ${t.rttMs} ms`}` : t.outcome === 'timeout' ? 'no answer' : t.outcome === 'error-response' ? `error ${t.errorCode ?? ''}` : t.outcome;
    tests.push([t.test, t.local, t.destination, change, result, t.responseFrom ?? '', t.xorMappedAddress ?? t.mappedAddress ?? '', String(t.attempts)]);
  }
  if (report.hairpinTest !== null) {
    tests.push(['hairpinning', '', 'own mapped addresses', '', report.hairpinTest.received ? 'came back' : 'no answer', '', '', String(report.hairpinTest.attempts)]);
  }

  const verdict = new Table({ style: { head: [], border: [] } });
  const why = (key: keyof ClassifyReport['reasons']): string => report.reasons[key] ?? '';
  const allocation = report.portAllocation.pattern === 'sequential' ? `sequential (step ${report.portAllocation.delta})` : report.portAllocation.pattern;
  verdict.push(
    { 'NAT': [yesNo(report.nat), why('nat')] },
    { 'Mapping (RFC 4787)': [report.mapping, why('mapping')] },
    { 'Filtering (RFC 4787)': [report.filtering, why('filtering')] },
    { Hairpinning: [yesNo(report.hairpinning), why('hairpinning')] },
    { 'ALG rewriting': [yesNo(report.algRewriting), why('algRewriting')] },
    { 'Port preservation': [yesNo(report.portPreservation), ''] },
    { 'Port allocation': [allocation, why('portAllocation')] },
    { 'RFC 3489 type': [LEGACY_NAMES[report.rfc3489], why('rfc3489')] },
    { 'Mapped address': [report.mappedAddress ?? 'none', ''] },
  );

  const server =
    report.server === null
      ? 'no server answered'
      : `${report.serverName === null ? '' : `${report.serverName} `}${report.server}${report.serverSupportsRfc5780 ? ' (RFC 5780)' : ' (no RFC 5780: OTHER-ADDRESS missing)'}`;
  return [
    `Server: ${server}; local address ${report.localAddress ?? 'unknown'}; ${(report.durationMs / 1000).toFixed(2)} s`,
    tests.toString(),
    verdict.toString(),
    headline(report),
    holePunchingAdvice(report),
  ].join('\n');
}
