import { formatTransportAddress, sameIp, sameTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import { BROKEN_ANSWER_KINDS, type BindingObservation, type NatEvidence, type RejectionKind } from './evidence.js';
import { describePortAllocation } from './port-allocation.js';
import type { Behaviour, NatVerdict, Rfc3489Type } from './verdict.js';

type Decision<T> = { readonly value: T; readonly reason?: string };

/** Classifies the NAT from test evidence (RFC 5780 §4, RFC 4787 words); a pure function. */
export function classifyNat(evidence: NatEvidence): NatVerdict {
  const testI = evidence.mappingTestI;
  const reasons: Record<string, string> = {};
  const note = <T>(key: string, decision: Decision<T>): T => {
    if (decision.reason !== undefined) reasons[key] = decision.reason;
    return decision.value;
  };

  if (testI === undefined || testI.outcome !== 'response') {
    return unreachableVerdict(evidence, testI, reasons);
  }

  const mapped = mappedAddressOf(testI);
  const unusable = unusableMappedAddress(testI);
  if (unusable !== undefined) {
    // RFC 8489 §14.2: an address that cannot be the requester's is no evidence of a mapping.
    reasons.nat = unusable;
    reasons.mapping = `test I gave no usable mapped address: ${unusable}`;
    reasons.filtering = 'not decided: test I gave no usable mapped address';
    return { ...unknownVerdict(reasons, 'unknown', unusable) };
  }
  const nat = note('nat', decideNat(testI, mapped, evidence.localAddresses));
  const mapping = note('mapping', decideMapping(evidence, testI, mapped, nat));
  const filtering = note('filtering', decideFiltering(evidence, testI));
  const hairpinning = note('hairpinning', decideHairpinning(evidence, nat));
  const algRewriting = note('algRewriting', decideAlgRewriting(testI));
  const portAllocation = describePortAllocation(evidence.allocationSamples ?? []);
  if (portAllocation.reason !== undefined) reasons.portAllocation = portAllocation.reason;
  const rfc3489 = note('rfc3489', decideRfc3489(nat, mapping, filtering));

  return {
    nat: nat,
    mapping: mapping.behaviour,
    filtering,
    hairpinning,
    algRewriting,
    portPreservation: nat === true && mapped !== undefined ? mapped.port === testI.local.port : nat === false ? true : null,
    portAllocation: portAllocation.allocation,
    rfc3489,
    mappedAddress: mapped === undefined ? null : formatTransportAddress(mapped),
    reasons,
  };
}

/**
 * The usable mapped address of a response: XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an RFC 3489 server; undefined
 * when there is none or it cannot be the requester's (see `unusableMappedAddress`).
 */
export function mappedAddressOf(observation: BindingObservation | undefined): TransportAddress | undefined {
  if (observation === undefined || unusableMappedAddress(observation) !== undefined) return undefined;
  return observation.xorMappedAddress ?? observation.mappedAddress;
}

/**
 * Why a response's mapped address cannot be the requester's reflexive address, or undefined when it can be:
 * another family than the request went over, port 0, the unspecified address, a multicast or broadcast address.
 */
export function unusableMappedAddress(observation: BindingObservation): string | undefined {
  const mapped = observation.xorMappedAddress ?? observation.mappedAddress;
  if (mapped === undefined) return undefined;
  const who = `${formatTransportAddress(observation.responseFrom ?? observation.destination)} answered ${observation.test}`;
  const family = (f: 'IPv4' | 'IPv6'): string => (f === 'IPv6' ? 'IPv6' : 'IPv4');
  if (mapped.family !== observation.destination.family) {
    return `${who} with an ${family(mapped.family)} address (${formatTransportAddress(mapped)}) to an ${family(observation.destination.family)} request`;
  }
  if (mapped.port === 0) return `${who} with port 0 (${formatTransportAddress(mapped)}), which no socket can have`;
  if (mapped.address === '0.0.0.0' || mapped.address === '::') return `${who} with the unspecified address ${formatTransportAddress(mapped)}`;
  const firstByte = Number(mapped.address.split('.')[0]);
  if ((mapped.family === 'IPv4' && firstByte >= 224 && firstByte <= 239) || (mapped.family === 'IPv6' && /^ff/i.test(mapped.address))) {
    return `${who} with the multicast address ${formatTransportAddress(mapped)}, which cannot be a sender's`;
  }
  if (mapped.address === '255.255.255.255') return `${who} with the broadcast address ${formatTransportAddress(mapped)}`;
  return undefined;
}

/**
 * The server's alternate address: OTHER-ADDRESS, or CHANGED-ADDRESS from an RFC 3489 server (RFC 5780 §7.4:
 * OTHER-ADDRESS is CHANGED-ADDRESS renamed, with the same meaning).
 */
export function alternateAddressOf(observation: BindingObservation | undefined): TransportAddress | undefined {
  return observation?.otherAddress ?? observation?.changedAddress;
}

/** Which attribute gave the server's alternate address, for the report. */
export function alternateAddressAttribute(observation: BindingObservation | undefined): 'OTHER-ADDRESS' | 'CHANGED-ADDRESS' | null {
  if (observation?.otherAddress !== undefined) return 'OTHER-ADDRESS';
  if (observation?.changedAddress !== undefined) return 'CHANGED-ADDRESS';
  return null;
}

function unknownVerdict(reasons: Record<string, string>, rfc3489: Rfc3489Type, reason: string): NatVerdict {
  reasons.rfc3489 = reason;
  return {
    nat: null,
    mapping: 'unknown',
    filtering: 'unknown',
    hairpinning: null,
    algRewriting: null,
    portPreservation: null,
    portAllocation: { pattern: 'unknown', samples: [] },
    rfc3489,
    mappedAddress: null,
    reasons,
  };
}

const REJECTION_WORDS: Record<RejectionKind, string> = {
  'wrong-transaction-id': 'wrong transaction ID',
  'wrong-source': 'from another address than asked',
  'malformed-stun': 'malformed STUN',
  'not-stun': 'not STUN',
  'echoed-request': 'our own request sent back',
  stray: 'stray datagrams from elsewhere',
};

/** "wrong transaction ID ×7, malformed STUN ×1" */
function rejectionsText(rejected: BindingObservation['rejected'], kinds: readonly RejectionKind[]): string {
  return kinds
    .filter((k) => (rejected?.[k] ?? 0) > 0)
    .map((k) => `${REJECTION_WORDS[k]} ×${rejected?.[k] ?? 0}`)
    .join(', ');
}

const brokenCount = (o: BindingObservation): number => BROKEN_ANSWER_KINDS.reduce((sum, k) => sum + (o.rejected?.[k] ?? 0), 0);

/** True when a first contact saw nothing at all: no answer, no ICMP error, no failed send, no datagram. */
function silent(o: BindingObservation): boolean {
  return o.outcome === 'timeout' && brokenCount(o) === 0 && (o.rejected?.stray ?? 0) === 0;
}

const tries = (o: BindingObservation): string => `${o.attempts} tr${o.attempts === 1 ? 'y' : 'ies'}, ${(o.elapsedMs / 1000).toFixed(1)} s`;

/** What one failed first contact shows, in words. */
export function describeFailedContact(o: BindingObservation): string {
  const server = formatTransportAddress(o.destination);
  switch (o.outcome) {
    case 'port-unreachable':
      return `the host ${o.destination.address} answered that nothing listens on port ${o.destination.port} (ICMP port unreachable after ${tries(o)}): UDP gets out, but there is no STUN server at ${server}`;
    case 'host-unreachable':
      return `an ICMP error (${o.systemError ?? 'host unreachable'}) came back for ${server} after ${tries(o)}: a router says the host cannot be reached`;
    case 'send-error': {
      const meaning = o.systemError === 'ENETUNREACH' ? ' (no route to that network)' : o.systemError === 'EHOSTUNREACH' ? ' (no route to that host)' : o.systemError === 'EACCES' || o.systemError === 'EPERM' ? ' (a local firewall refused it)' : '';
      return `this host could not send to ${server}: ${o.systemError ?? 'send failed'}${meaning}`;
    }
    case 'error-response':
      return `${server} answered test I with error ${o.errorCode ?? '?'}`;
    default:
      break;
  }
  const notStun = (o.rejected?.['not-stun'] ?? 0) + (o.rejected?.['echoed-request'] ?? 0);
  if (notStun > 0 && notStun >= brokenCount(o) - notStun) {
    return `${server} answers UDP but not STUN (${rejectionsText(o.rejected, BROKEN_ANSWER_KINDS)}): is it an echo server?`;
  }
  if (brokenCount(o) > 0) {
    return `${server} answers, but its answers do not match the requests (${rejectionsText(o.rejected, BROKEN_ANSWER_KINDS)}): the server is broken or something rewrites its replies`;
  }
  const strays = o.rejected?.stray ?? 0;
  return `no answer from ${server} after ${tries(o)}${strays > 0 ? `, though ${strays} stray datagram${strays === 1 ? '' : 's'} from elsewhere got in (so UDP is not blocked)` : ''}`;
}

function unreachableVerdict(evidence: NatEvidence, testI: BindingObservation | undefined, reasons: Record<string, string>): NatVerdict {
  const contacts = evidence.firstContacts ?? (testI === undefined ? [] : [testI]);
  if (contacts.length === 0) return unknownVerdict(reasons, 'unknown', 'no STUN server was tried');
  if (contacts.every(silent)) {
    const ips = new Set(contacts.map((o) => o.destination.address));
    const most = Math.max(...contacts.map((o) => o.attempts));
    const seconds = Math.max(...contacts.map((o) => o.elapsedMs)) / 1000;
    if (ips.size >= 2) {
      // RFC 3489 §10.1: no answer to test I means UDP is blocked. With servers at two or more IPs silent and no ICMP
      // error back, "every server is down" is the less likely story; the reason still says both.
      return unknownVerdict(
        reasons,
        'udp-blocked',
        `no answer and no ICMP error from ${contacts.length} STUN servers at ${ips.size} IP addresses after ${most} tries (${seconds.toFixed(1)} s): UDP is blocked, or every server is down`,
      );
    }
    // One IP: a silent server and a blocked network look the same.
    const names = contacts.map((o) => formatTransportAddress(o.destination)).join(', ');
    return unknownVerdict(
      reasons,
      'unknown',
      `no answer from ${names} after ${most} tries (${seconds.toFixed(1)} s); a single server cannot tell a blocked network from a server that is down — pass a second server`,
    );
  }
  return unknownVerdict(reasons, 'unknown', contacts.map(describeFailedContact).join('; '));
}

function decideNat(testI: BindingObservation, mapped: TransportAddress | undefined, localAddresses: readonly string[]): Decision<boolean | null> {
  if (mapped === undefined) return { value: null, reason: 'the response carried no XOR-MAPPED-ADDRESS or MAPPED-ADDRESS' };
  const localIp = localAddresses.some((ip) => sameIp(ip, mapped.address));
  if (localIp && mapped.port === testI.local.port) {
    return { value: false, reason: `the mapped address ${formatTransportAddress(mapped)} is this host's own: no translation` };
  }
  return {
    value: true,
    reason: localIp
      ? `the port is translated (${testI.local.port} → ${mapped.port}) though the IP is this host's`
      : `the mapped address ${formatTransportAddress(mapped)} is not an address of this host`,
  };
}

interface MappingDecision {
  readonly behaviour: Behaviour;
  /** False when known not to be endpoint-independent even if the exact kind is unknown. */
  readonly endpointIndependent: boolean | null;
}

function decideMapping(
  evidence: NatEvidence,
  testI: BindingObservation,
  mapped: TransportAddress | undefined,
  nat: boolean | null,
): Decision<MappingDecision> {
  const unknown = (reason: string, endpointIndependent: boolean | null = null): Decision<MappingDecision> => ({
    value: { behaviour: 'unknown', endpointIndependent },
    reason,
  });
  const decided = (behaviour: Behaviour, reason: string): Decision<MappingDecision> => ({
    value: { behaviour, endpointIndependent: behaviour === 'endpoint-independent' },
    reason,
  });
  if (mapped === undefined) return unknown('test I gave no mapped address');
  if (nat === false) return decided('endpoint-independent', 'no NAT: the address is not translated');

  const other = alternateAddressOf(testI);
  if (other === undefined) return decideMappingByComparison(evidence, testI, mapped);
  const primary = testI.responseFrom ?? testI.destination;
  if (other.family !== primary.family || sameIp(other.address, primary.address) || other.port === primary.port) {
    return unknown(`the server's OTHER-ADDRESS ${formatTransportAddress(other)} does not differ from ${formatTransportAddress(primary)} in both IP and port`);
  }
  // RFC 5780 §4.3 test II: same socket, alternate IP, primary port.
  const testII = evidence.mappingTestII;
  const mappedII = mappedAddressOf(testII);
  if (testII === undefined || testII.outcome !== 'response' || mappedII === undefined) {
    return unknown(`mapping test II to ${formatTransportAddress(testII?.destination ?? other)} got no usable response${attemptsText(testII)}${unusableText(testII)}`);
  }
  if (sameTransportAddress(mappedII, mapped)) {
    return decided('endpoint-independent', `the same mapping ${formatTransportAddress(mapped)} toward ${formatTransportAddress(primary)} and ${formatTransportAddress(testII.destination)}`);
  }
  // RFC 5780 §4.3 test III: alternate IP, alternate port.
  const testIII = evidence.mappingTestIII;
  const mappedIII = mappedAddressOf(testIII);
  if (testIII === undefined || testIII.outcome !== 'response' || mappedIII === undefined) {
    return unknown(`test II mapped differently (${formatTransportAddress(mappedII)}) but mapping test III got no usable response${attemptsText(testIII)}${unusableText(testIII)}`, false);
  }
  if (sameTransportAddress(mappedIII, mappedII)) {
    return decided('address-dependent', `a new mapping for a new IP (${formatTransportAddress(mappedII)}), kept for a new port on that IP`);
  }
  return decided('address-and-port-dependent', `a new mapping for every destination port (${formatTransportAddress(mapped)}, ${formatTransportAddress(mappedII)}, ${formatTransportAddress(mappedIII)})`);
}

function decideMappingByComparison(evidence: NatEvidence, testI: BindingObservation, mapped: TransportAddress): Decision<MappingDecision> {
  const primaryIp = (testI.responseFrom ?? testI.destination).address;
  const others = (evidence.comparisons ?? []).filter(
    (o) => o.outcome === 'response' && mappedAddressOf(o) !== undefined && !sameIp(o.destination.address, primaryIp),
  );
  if (others.length === 0) {
    return {
      value: { behaviour: 'unknown', endpointIndependent: null },
      reason: 'the server sent no OTHER-ADDRESS (it does not do RFC 5780) and no second server at another IP answered to compare with',
    };
  }
  const differing = others.filter((o) => !sameTransportAddress(mappedAddressOf(o), mapped));
  if (differing.length === 0) {
    return {
      value: { behaviour: 'endpoint-independent', endpointIndependent: true },
      reason: `the same mapping ${formatTransportAddress(mapped)} seen by ${others.length + 1} servers at different IPs`,
    };
  }
  return {
    value: { behaviour: 'unknown', endpointIndependent: false },
    reason:
      `servers at different IPs saw different mappings (${formatTransportAddress(mapped)} and ${formatTransportAddress(mappedAddressOf(differing[0]) ?? mapped)}), ` +
      'so the mapping is not endpoint-independent; telling address-dependent from address-and-port-dependent needs an RFC 5780 server',
  };
}

type FilteringProbe = 'answered' | 'silent' | { readonly limited: string };

/** Reads one filtering test: did the answer come from where the CHANGE-REQUEST asked it to? */
function readFilteringTest(observation: BindingObservation | undefined, expectedFrom: TransportAddress): FilteringProbe {
  if (observation === undefined) return { limited: 'the test was not run' };
  if (observation.outcome === 'timeout' && brokenCount(observation) === 0) return 'silent';
  if (observation.outcome !== 'response' && observation.outcome !== 'error-response') {
    return { limited: `${observation.test}: ${describeFailedContact(observation)}` };
  }
  if (observation.outcome === 'error-response') {
    return { limited: `the server answered CHANGE-REQUEST with error ${observation.errorCode ?? '?'}, so it cannot test filtering` };
  }
  if (!sameTransportAddress(observation.responseFrom, expectedFrom)) {
    const claimed = observation.responseOrigin === undefined ? '' : ` (RESPONSE-ORIGIN claims ${formatTransportAddress(observation.responseOrigin)})`;
    return {
      limited: `the answer to CHANGE-REQUEST came from ${observation.responseFrom === undefined ? 'nowhere known' : formatTransportAddress(observation.responseFrom)}${claimed}, not ${formatTransportAddress(expectedFrom)}: the server does not honour CHANGE-REQUEST`,
    };
  }
  return 'answered';
}

function decideFiltering(evidence: NatEvidence, testI: BindingObservation): Decision<Behaviour> {
  const other = alternateAddressOf(testI);
  if (other === undefined) {
    return { value: 'unknown', reason: 'filtering needs an RFC 5780 server (OTHER-ADDRESS and CHANGE-REQUEST); this one sent no OTHER-ADDRESS' };
  }
  const primary = testI.responseFrom ?? testI.destination;
  // RFC 5780 §4.4 test II: CHANGE-REQUEST for IP and port, answered from OTHER-ADDRESS.
  const testII = readFilteringTest(evidence.filteringTestII, other);
  // RFC 5780 §4.4 test III: CHANGE-REQUEST for port only, answered from the primary IP and alternate port.
  const testIII = readFilteringTest(evidence.filteringTestIII, { ...primary, port: other.port });
  if (typeof testII === 'object') return { value: 'unknown', reason: testII.limited };
  if (testII === 'answered') {
    if (testIII === 'silent') {
      return { value: 'unknown', reason: 'inconsistent: a reply from another IP and port got through but one from another port only did not (loss?)' };
    }
    return { value: 'endpoint-independent', reason: `a reply from ${formatTransportAddress(other)}, never contacted, got through` };
  }
  if (typeof testIII === 'object') return { value: 'unknown', reason: testIII.limited };
  // Silence is evidence of filtering only if the alternate address answers at all: mapping tests II and III go there
  // from the mapping socket (RFC 5780 §4.3), so one of them answered shows a server that is really there.
  const alternateAnswered = [evidence.mappingTestII, evidence.mappingTestIII].some((o) => o?.outcome === 'response');
  if (!alternateAnswered) {
    return {
      value: 'unknown',
      reason: `the alternate address ${formatTransportAddress(other)} never answered mapping test II or III, so replies missing from it prove nothing about filtering`,
    };
  }
  if (testIII === 'answered') {
    return { value: 'address-dependent', reason: 'a reply from a new IP was dropped; one from a new port of a contacted IP got through' };
  }
  return {
    value: 'address-and-port-dependent',
    reason: `replies from a new IP and from a new port were both dropped (${evidence.filteringTestII?.attempts ?? 0} and ${evidence.filteringTestIII?.attempts ?? 0} attempts)`,
  };
}

function decideHairpinning(evidence: NatEvidence, nat: boolean | null): Decision<boolean | null> {
  const hairpin = evidence.hairpinning;
  if (hairpin === undefined) return { value: null, reason: 'not tested (no mapped addresses to send to)' };
  if (hairpin.received) {
    return { value: true, reason: nat === false ? 'no NAT: a request to a mapped address goes straight to the socket' : 'a request sent to a mapped address of this host came back in through the NAT' };
  }
  if (hairpin.attempts === 0) return { value: null, reason: 'not tested' };
  return { value: false, reason: `no request sent to a mapped address came back (${hairpin.attempts} attempts each way)` };
}

function decideAlgRewriting(testI: BindingObservation): Decision<boolean | null> {
  if (testI.mappedAddress === undefined || testI.xorMappedAddress === undefined) {
    return { value: null, reason: 'the server did not send both MAPPED-ADDRESS and XOR-MAPPED-ADDRESS' };
  }
  if (sameTransportAddress(testI.mappedAddress, testI.xorMappedAddress)) return { value: false };
  return {
    value: true,
    reason: `MAPPED-ADDRESS ${formatTransportAddress(testI.mappedAddress)} ≠ XOR-MAPPED-ADDRESS ${formatTransportAddress(testI.xorMappedAddress)}: a middlebox rewrites addresses inside packets`,
  };
}

function decideRfc3489(nat: boolean | null, mapping: MappingDecision, filtering: Behaviour): Decision<Rfc3489Type> {
  if (nat === null) return { value: 'unknown', reason: 'whether there is a NAT is unknown' };
  if (!nat) {
    if (filtering === 'unknown') return { value: 'unknown', reason: 'no NAT, but the filtering is unknown' };
    return { value: filtering === 'endpoint-independent' ? 'open-internet' : 'symmetric-firewall' };
  }
  // RFC 3489 §5: a NAT whose mapping depends on the destination is "symmetric", whatever it filters.
  if (mapping.endpointIndependent === false) return { value: 'symmetric' };
  if (mapping.behaviour !== 'endpoint-independent') return { value: 'unknown', reason: 'the mapping behaviour is unknown' };
  switch (filtering) {
    case 'endpoint-independent':
      return { value: 'full-cone' };
    case 'address-dependent':
      return { value: 'restricted-cone' };
    case 'address-and-port-dependent':
      return { value: 'port-restricted-cone' };
    default:
      return { value: 'unknown', reason: 'the filtering behaviour is unknown' };
  }
}

function unusableText(observation: BindingObservation | undefined): string {
  const problem = observation === undefined ? undefined : unusableMappedAddress(observation);
  return problem === undefined ? '' : `: ${problem}`;
}

function attemptsText(observation: BindingObservation | undefined): string {
  return observation === undefined ? '' : ` (${observation.attempts} attempts, ${(observation.elapsedMs / 1000).toFixed(1)} s)`;
}
