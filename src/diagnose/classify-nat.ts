import { formatTransportAddress, sameIp, sameTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import type { BindingObservation, NatEvidence } from './evidence.js';
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

/** XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an RFC 3489 server. */
export function mappedAddressOf(observation: BindingObservation | undefined): TransportAddress | undefined {
  return observation?.xorMappedAddress ?? observation?.mappedAddress;
}

function unreachableVerdict(evidence: NatEvidence, testI: BindingObservation | undefined, reasons: Record<string, string>): NatVerdict {
  const unknown = (reason: string, rfc3489: Rfc3489Type): NatVerdict => {
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
  };
  if (testI?.outcome === 'error-response') {
    return unknown(`${formatTransportAddress(testI.destination)} answered test I with error ${testI.errorCode ?? '?'}`, 'unknown');
  }
  const tried = evidence.unreachable?.length ?? (testI === undefined ? 0 : 1);
  if (tried === 0) return unknown('no STUN server was tried', 'unknown');
  // RFC 3489 §10.1: no answer to test I means UDP is blocked (or every server is down: it cannot tell).
  return unknown(
    `no answer over UDP from ${tried} STUN server${tried === 1 ? '' : 's'}` +
      (testI === undefined ? '' : ` after ${testI.attempts} attempts (${(testI.elapsedMs / 1000).toFixed(1)} s)`) +
      ': UDP is blocked, or every server is down',
    'udp-blocked',
  );
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

  const other = testI.otherAddress;
  if (other === undefined) return decideMappingByComparison(evidence, testI, mapped);
  const primary = testI.responseFrom ?? testI.destination;
  if (sameIp(other.address, primary.address) || other.port === primary.port) {
    return unknown(`the server's OTHER-ADDRESS ${formatTransportAddress(other)} does not differ from ${formatTransportAddress(primary)} in both IP and port`);
  }
  // RFC 5780 §4.3 test II: same socket, alternate IP, primary port.
  const testII = evidence.mappingTestII;
  const mappedII = mappedAddressOf(testII);
  if (testII === undefined || testII.outcome !== 'response' || mappedII === undefined) {
    return unknown(`mapping test II to ${formatTransportAddress(testII?.destination ?? other)} got no usable response${attemptsText(testII)}`);
  }
  if (sameTransportAddress(mappedII, mapped)) {
    return decided('endpoint-independent', `the same mapping ${formatTransportAddress(mapped)} toward ${formatTransportAddress(primary)} and ${formatTransportAddress(testII.destination)}`);
  }
  // RFC 5780 §4.3 test III: alternate IP, alternate port.
  const testIII = evidence.mappingTestIII;
  const mappedIII = mappedAddressOf(testIII);
  if (testIII === undefined || testIII.outcome !== 'response' || mappedIII === undefined) {
    return unknown(`test II mapped differently (${formatTransportAddress(mappedII)}) but mapping test III got no usable response${attemptsText(testIII)}`, false);
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
  if (observation.outcome === 'timeout') return 'silent';
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
  const other = testI.otherAddress;
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

function attemptsText(observation: BindingObservation | undefined): string {
  return observation === undefined ? '' : ` (${observation.attempts} attempts, ${(observation.elapsedMs / 1000).toFixed(1)} s)`;
}
