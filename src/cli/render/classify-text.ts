import type { ClassifyReport } from '../../api/classify.js';
import type { Rfc3489Type } from '../../diagnose/verdict.js';
import { renderFittedTable } from './fit-table.js';
import { wrapParagraph } from './wrap.js';

/** The fields of a classify report the text is made from. */
export type ClassifyTextInput = Pick<
  ClassifyReport,
  | 'nat'
  | 'mapping'
  | 'filtering'
  | 'hairpinning'
  | 'algRewriting'
  | 'portPreservation'
  | 'portAllocation'
  | 'rfc3489'
  | 'mappedAddress'
  | 'reasons'
  | 'server'
  | 'serverName'
  | 'serverSupportsRfc5780'
  | 'localAddress'
  | 'durationMs'
  | 'tests'
  | 'hairpinTest'
>;

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

/** A reason as the end of a sentence: no trailing period of its own. */
const clause = (text: string | undefined, fallback: string): string => (text ?? fallback).replace(/[.\s]+$/, '');

/**
 * The verdict in plain words, one sentence per field. Each sentence follows from a decided field; an unknown field
 * gets a sentence saying it is unknown and why (its reason), never a guess.
 */
export function verdictSentences(report: ClassifyTextInput): string[] {
  const why = (field: keyof ClassifyReport['reasons'], fallback: string): string => clause(report.reasons[field], fallback);
  if (report.rfc3489 === 'udp-blocked') {
    return [
      `UDP looks blocked: ${why('rfc3489', 'no STUN server answered')}.`,
      'Peer-to-peer UDP will not work from here; programs fall back to relays over TCP or TLS (TURN).',
    ];
  }
  if (report.nat === null && report.mappedAddress === null) {
    return [`Nothing about a NAT could be measured: ${why('rfc3489', why('nat', 'no STUN server gave a usable answer'))}.`];
  }

  const sentences: string[] = [];
  const behind = report.nat === true;
  // RFC 4787 §4.1: a NAT's mapping; with no NAT the address is not translated, so there is nothing more to say.
  if (report.nat === true) sentences.push(`You are behind a NAT: servers see you as ${report.mappedAddress ?? 'an address that is not this host’s'}.`);
  else if (report.nat === false) sentences.push(`No NAT: servers see this host's own address${report.mappedAddress === null ? '' : ` (${report.mappedAddress})`}.`);
  else sentences.push(`Whether there is a NAT is unknown: ${why('nat', 'the mapped address could not be compared with this host’s')}.`);

  if (report.nat !== false || report.mapping !== 'endpoint-independent') {
    switch (report.mapping) {
      case 'endpoint-independent':
        sentences.push('The mapping is endpoint-independent: you keep the same public address and port for every destination, so a peer can use the address a server saw.');
        break;
      case 'address-dependent':
        sentences.push('The mapping is address-dependent: each destination IP gets a new public port, so a peer cannot use the address a server saw.');
        break;
      case 'address-and-port-dependent':
        sentences.push('The mapping is address-and-port-dependent: each destination IP and port gets a new public port, so a peer cannot use the address a server saw.');
        break;
      default:
        sentences.push(`The mapping behaviour is unknown: ${why('mapping', 'no test decided it')}.`);
    }
  }

  // RFC 4787 §5: who may send in. Without a NAT it is a firewall's doing.
  const filter = behind ? 'Your NAT' : 'A stateful firewall';
  switch (report.filtering) {
    case 'endpoint-independent':
      sentences.push(behind ? 'The filtering is endpoint-independent: once you have sent anything, anyone may send to your public address.' : 'Nothing filters incoming UDP: anyone may send to this host.');
      break;
    case 'address-dependent':
      sentences.push(`${filter} filters incoming UDP by address: only IPs you have sent to may send to you, from any port.`);
      break;
    case 'address-and-port-dependent':
      sentences.push(`${filter} filters incoming UDP by address and port: only the exact IP and port you sent to may answer.`);
      break;
    default:
      sentences.push(
        report.nat === false
          ? `Whether a firewall filters incoming UDP is unknown: ${why('filtering', 'no test decided it')}.`
          : `The filtering behaviour is unknown: ${why('filtering', 'no test decided it')}.`,
      );
  }

  // RFC 4787 §6, RFC 5780 §4.5. Without a NAT, hairpinning that works says nothing new.
  if (report.nat !== false || report.hairpinning !== true) {
    if (report.hairpinning === true) sentences.push('Hairpinning works: hosts behind the same NAT reach each other at their public addresses.');
    else if (report.hairpinning === false) sentences.push('No hairpinning: hosts behind the same NAT cannot reach each other at their public addresses, only at their local ones.');
    else sentences.push(`Whether hairpinning works is unknown: ${why('hairpinning', 'it was not tested')}.`);
  }

  if (report.algRewriting === true) sentences.push(`Something on the path rewrites addresses inside packets (an ALG): ${why('algRewriting', 'MAPPED-ADDRESS differs from XOR-MAPPED-ADDRESS')}.`);
  else if (report.algRewriting === null) sentences.push(`Whether something rewrites addresses inside packets (an ALG) is unknown: ${why('algRewriting', 'it was not tested')}.`);

  if (behind) {
    // RFC 4787 §4.2.
    const allocation = report.portAllocation;
    if (allocation.pattern === 'preserved') sentences.push('It keeps your local port numbers (port preservation).');
    else if (allocation.pattern === 'sequential') sentences.push(`It hands out public ports in sequence${allocation.delta === undefined ? '' : ` (step ${allocation.delta})`}.`);
    else if (allocation.pattern === 'random') sentences.push('It picks public ports at random.');
    else sentences.push(`How it picks public ports is unknown: ${why('portAllocation', 'too few samples')}.`);
  }

  sentences.push(holePunchingAdvice(report));
  return sentences;
}

/** What the decided fields mean for UDP hole punching; says what it cannot tell when a field it needs is unknown. */
export function holePunchingAdvice(report: Pick<ClassifyTextInput, 'nat' | 'mapping' | 'filtering' | 'rfc3489' | 'reasons'>): string {
  switch (report.rfc3489) {
    case 'open-internet':
      return 'Peer-to-peer works with every peer: anyone can reach you directly.';
    case 'symmetric-firewall':
      return 'Hole punching works: once you send to a peer, its answers get in.';
    case 'full-cone':
      return 'Hole punching works with every peer.';
    case 'restricted-cone':
      return 'Hole punching works with every peer, symmetric NATs included.';
    case 'port-restricted-cone':
      return 'Hole punching works with peers behind cone NATs; with a peer behind a symmetric NAT it fails, and a relay (TURN) is needed.';
    case 'symmetric':
      return 'Hole punching works only with peers whose NAT or firewall filters by address alone or not at all (open internet, full or restricted cone); otherwise a relay (TURN) is needed.';
    case 'udp-blocked':
      return 'Peer-to-peer UDP will not work from here.';
    default:
      break;
  }
  const stableMapping = report.nat === false || report.mapping === 'endpoint-independent';
  if (stableMapping && report.filtering === 'unknown') {
    return 'Hole punching works at least with peers whose mapping is endpoint-independent (no NAT, or a cone NAT); with a peer behind a symmetric NAT it depends on the filtering, which is unknown.';
  }
  if (report.nat === null) return 'Whether hole punching works cannot be said while it is unknown whether there is a NAT.';
  return 'Whether hole punching works cannot be said while the mapping is unknown.';
}

const yesNo = (value: boolean | null): string => (value === null ? 'unknown' : value ? 'yes' : 'no');

/** The human report at `width` columns: the tests and their evidence, the verdict table, then the verdict in words. */
export function renderClassifyText(report: ClassifyTextInput, width: number): string {
  const tests: string[][] = report.tests.map((t) => {
    const change = t.changeRequest === null ? '' : [t.changeRequest.changeIp ? 'IP' : '', t.changeRequest.changePort ? 'port' : ''].filter(Boolean).join('+');
    // A no-break space keeps a number with its unit when the cell wraps.
    const outcome = t.outcome === 'response' ? `answer${t.rttMs === null ? '' : ` ${t.rttMs}\u00a0ms`}` : t.outcome === 'timeout' ? 'no answer' : t.outcome === 'error-response' ? `error ${t.errorCode ?? ''}`.trim() : t.outcome;
    const result = `${outcome}\n${t.attempts} ${t.attempts === 1 ? 'try' : 'tries'}`;
    const mapped = t.xorMappedAddress ?? t.mappedAddress;
    const answer = [t.responseFrom === null ? '' : `from ${t.responseFrom}`, mapped === null ? '' : `mapped ${mapped}`].filter(Boolean).join('\n');
    return [t.test, `${t.local}\n→ ${t.destination}${change === '' ? '' : `\nchange ${change}`}`, result, answer];
  });
  if (report.hairpinTest !== null) {
    const tries = `${report.hairpinTest.attempts} ${report.hairpinTest.attempts === 1 ? 'try' : 'tries'}`;
    tests.push(['hairpinning', 'to own mapped addresses', `${report.hairpinTest.received ? 'came back' : 'no answer'}\n${tries}`, '']);
  }

  const why = (key: keyof ClassifyReport['reasons']): string => report.reasons[key] ?? '';
  const allocation = report.portAllocation.pattern === 'sequential' ? `sequential (step ${report.portAllocation.delta})` : report.portAllocation.pattern;
  const verdict = [
    ['NAT', yesNo(report.nat), why('nat')],
    ['Mapping (RFC 4787)', report.mapping, why('mapping')],
    ['Filtering (RFC 4787)', report.filtering, why('filtering')],
    ['Hairpinning', yesNo(report.hairpinning), why('hairpinning')],
    ['ALG rewriting', yesNo(report.algRewriting), why('algRewriting')],
    ['Port preservation', yesNo(report.portPreservation), ''],
    ['Port allocation', allocation, why('portAllocation')],
    ['RFC 3489 type', LEGACY_NAMES[report.rfc3489], why('rfc3489')],
    ['Mapped address', report.mappedAddress ?? 'none', ''],
  ];

  const server =
    report.server === null
      ? 'no server answered'
      : `${report.serverName === null ? '' : `${report.serverName} `}${report.server}${report.serverSupportsRfc5780 ? ' (RFC 5780)' : ' (no RFC 5780: OTHER-ADDRESS missing)'}`;
  const [headline = '', ...rest] = verdictSentences(report);
  return [
    wrapParagraph(`Server: ${server}; local address ${report.localAddress ?? 'unknown'}; ${(report.durationMs / 1000).toFixed(2)} s`, width),
    ...(tests.length === 0 ? [] : [renderFittedTable(tests, width, { head: ['Test', 'Sent', 'Result', 'Answer'] })]),
    renderFittedTable(verdict, width),
    wrapParagraph(headline, width),
    wrapParagraph(rest.join(' '), width),
  ].join('\n');
}
