import { describe, expect, it } from '@jest/globals';
import { transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import { classifyNat } from '../../src/diagnose/classify-nat.js';
import type { BindingObservation, NatEvidence } from '../../src/diagnose/evidence.js';
import type { Behaviour } from '../../src/diagnose/verdict.js';

type Known = Exclude<Behaviour, 'unknown'>;
const PRIMARY = transportAddress('203.0.113.1', 3478);
const OTHER = transportAddress('203.0.113.2', 3479);
const LOCAL_IP = '192.0.2.10';
const PUBLIC_IP = '203.0.113.100';

interface Scenario {
  readonly nat: boolean;
  readonly mapping: Known;
  readonly filtering: Known;
  readonly hairpin?: boolean;
}

function observation(test: string, localPort: number, destination: TransportAddress, extra: Partial<BindingObservation>): BindingObservation {
  return { test, local: transportAddress('0.0.0.0', localPort), destination, outcome: 'response', attempts: 1, elapsedMs: 1, rttMs: 1, responseFrom: destination, ...extra };
}

const timeout = (test: string, destination: TransportAddress): BindingObservation => ({
  test,
  local: transportAddress('0.0.0.0', 5000),
  destination,
  outcome: 'timeout',
  attempts: 7,
  elapsedMs: 790,
});

/** Evidence as an RFC 5780 server would produce it for a NAT of the given behaviour. */
function evidenceFor(s: Scenario): NatEvidence {
  const localPort = 40000;
  const externalIp = s.nat ? PUBLIC_IP : LOCAL_IP;
  const basePort = s.nat ? 50000 : localPort;
  const mappedFor = (destination: TransportAddress): TransportAddress => {
    if (!s.nat || s.mapping === 'endpoint-independent') return transportAddress(externalIp, basePort);
    if (s.mapping === 'address-dependent') return transportAddress(externalIp, destination.address === PRIMARY.address ? basePort : basePort + 1);
    return transportAddress(externalIp, basePort + (destination.address === PRIMARY.address ? 0 : destination.port === PRIMARY.port ? 1 : 2));
  };
  const bindingTo = (test: string, destination: TransportAddress): BindingObservation => {
    const mapped = mappedFor(destination);
    return observation(test, localPort, destination, { xorMappedAddress: mapped, mappedAddress: mapped, otherAddress: OTHER, responseOrigin: destination });
  };
  const changed = (test: string, from: TransportAddress, passes: boolean): BindingObservation =>
    passes
      ? observation(test, 40001, PRIMARY, { responseFrom: from, responseOrigin: from, xorMappedAddress: transportAddress(externalIp, 50100), otherAddress: OTHER })
      : timeout(test, PRIMARY);
  return {
    localAddresses: ['127.0.0.1', LOCAL_IP],
    server: PRIMARY,
    mappingTestI: bindingTo('mapping test I', PRIMARY),
    mappingTestII: bindingTo('mapping test II', { ...OTHER, port: PRIMARY.port }),
    mappingTestIII: bindingTo('mapping test III', OTHER),
    filteringTestII: changed('filtering test II', OTHER, s.filtering === 'endpoint-independent'),
    filteringTestIII: changed('filtering test III', { ...PRIMARY, port: OTHER.port }, s.filtering !== 'address-and-port-dependent'),
    hairpinning: { attempts: 7, received: s.hairpin ?? false },
  };
}

const behaviours: Known[] = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent'];
const legacy = (mapping: Known, filtering: Known): string =>
  mapping !== 'endpoint-independent'
    ? 'symmetric'
    : { 'endpoint-independent': 'full-cone', 'address-dependent': 'restricted-cone', 'address-and-port-dependent': 'port-restricted-cone' }[filtering];

describe('classifyNat: every mapping × filtering behind a NAT (RFC 5780 §4.3, §4.4)', () => {
  const table = behaviours.flatMap((mapping) => behaviours.map((filtering) => [mapping, filtering, legacy(mapping, filtering)] as const));
  it.each(table)('mapping %s + filtering %s is RFC 3489 %s', (mapping, filtering, rfc3489) => {
    const verdict = classifyNat(evidenceFor({ nat: true, mapping, filtering }));
    expect(verdict).toMatchObject({ nat: true, mapping, filtering, rfc3489, mappedAddress: `${PUBLIC_IP}:50000`, algRewriting: false, portPreservation: false });
  });
});

describe('classifyNat: no NAT', () => {
  it('is open internet when unsolicited replies get through', () => {
    expect(classifyNat(evidenceFor({ nat: false, mapping: 'endpoint-independent', filtering: 'endpoint-independent' }))).toMatchObject({
      nat: false,
      mapping: 'endpoint-independent',
      filtering: 'endpoint-independent',
      rfc3489: 'open-internet',
      portPreservation: true,
    });
  });
  it.each(['address-dependent', 'address-and-port-dependent'] as const)('is a symmetric firewall with %s filtering', (filtering) => {
    expect(classifyNat(evidenceFor({ nat: false, mapping: 'endpoint-independent', filtering }))).toMatchObject({ nat: false, filtering, rfc3489: 'symmetric-firewall' });
  });
});

describe('classifyNat: UDP blocked, limited servers and loss', () => {
  const eim: Scenario = { nat: true, mapping: 'endpoint-independent', filtering: 'endpoint-independent' };

  it('says udp-blocked when servers at two IPs gave no answer and no ICMP error', () => {
    const contacts = [timeout('mapping test I', PRIMARY), timeout('mapping test I', transportAddress('198.51.100.7', 3478))];
    const verdict = classifyNat({ localAddresses: [LOCAL_IP], mappingTestI: contacts[0], firstContacts: contacts, unreachable: contacts.map((c) => c.destination) });
    expect(verdict).toMatchObject({ nat: null, mapping: 'unknown', filtering: 'unknown', hairpinning: null, rfc3489: 'udp-blocked', mappedAddress: null });
    expect(verdict.reasons.rfc3489).toMatch(/no answer and no ICMP error from 2 STUN servers at 2 IP addresses after 7 tries/);
  });

  const failedContacts: Array<[string, Partial<BindingObservation>[], RegExp]> = [
    ['one silent server', [{}], /no answer from 203\.0\.113\.1:3478 after 7 tries \(0\.8 s\); a single server cannot tell a blocked network from a server that is down — pass a second server/],
    ['two silent servers at one IP', [{}, { destination: { ...PRIMARY, port: 3479 } }], /no answer from 203\.0\.113\.1:3478, 203\.0\.113\.1:3479 after 7 tries .*a single server cannot tell/],
    ['ICMP port unreachable', [{ outcome: 'port-unreachable', systemError: 'ECONNREFUSED', attempts: 1 }], /the host 203\.0\.113\.1 answered that nothing listens on port 3478 \(ICMP port unreachable after 1 try/],
    ['ICMP host unreachable', [{ outcome: 'host-unreachable', systemError: 'EHOSTUNREACH' }], /an ICMP error \(EHOSTUNREACH\) came back for 203\.0\.113\.1:3478/],
    ['no route', [{ outcome: 'send-error', systemError: 'ENETUNREACH' }], /this host could not send to 203\.0\.113\.1:3478: ENETUNREACH \(no route to that network\)/],
    ['an echo server', [{ outcome: 'broken-answers', rejected: { 'echoed-request': 2 } }], /203\.0\.113\.1:3478 answers UDP but not STUN \(our own request sent back ×2\): is it an echo server\?/],
    ['wrong transaction IDs', [{ outcome: 'broken-answers', rejected: { 'wrong-transaction-id': 7 } }], /answers, but its answers do not match the requests \(wrong transaction ID ×7\)/],
    ['silence at one server, strays from elsewhere', [{ rejected: { stray: 4 } }], /though 4 stray datagrams from elsewhere got in \(so UDP is not blocked\)/],
    ['one silent, one refusing, at two IPs', [{}, { destination: transportAddress('198.51.100.7', 3478), outcome: 'port-unreachable', systemError: 'ECONNREFUSED' }], /no answer from 203\.0\.113\.1:3478 after 7 tries.*; the host 198\.51\.100\.7 answered that nothing listens/],
  ];
  it.each(failedContacts)('is unknown, never udp-blocked, with %s', (_name, contacts, reason) => {
    const observations = contacts.map((c) => ({ ...timeout('mapping test I', PRIMARY), ...c }));
    const verdict = classifyNat({ localAddresses: [LOCAL_IP], mappingTestI: observations[0], firstContacts: observations });
    expect(verdict.rfc3489).toBe('unknown');
    expect(verdict.reasons.rfc3489).toMatch(reason);
  });

  it('uses an RFC 3489 CHANGED-ADDRESS as OTHER-ADDRESS (RFC 5780 §7.4)', () => {
    const evidence = evidenceFor({ nat: true, mapping: 'endpoint-independent', filtering: 'address-dependent' });
    const { otherAddress, ...testI } = evidence.mappingTestI!;
    const verdict = classifyNat({ ...evidence, mappingTestI: { ...testI, changedAddress: otherAddress! } });
    expect(verdict).toMatchObject({ mapping: 'endpoint-independent', filtering: 'address-dependent', rfc3489: 'restricted-cone' });
  });

  it.each([
    ['an IPv6 address to an IPv4 request', transportAddress('2001:db8::1', 5000), /with an IPv6 address \(\[2001:db8::1\]:5000\) to an IPv4 request/],
    ['port 0', transportAddress(PUBLIC_IP, 0), /with port 0/],
    ['the unspecified address', transportAddress('0.0.0.0', 5000), /with the unspecified address/],
    ['a multicast address', transportAddress('239.1.2.3', 5000), /with the multicast address 239\.1\.2\.3:5000/],
  ])('takes no decision from a mapped address that cannot be ours: %s', (_name, mapped, reason) => {
    const evidence = evidenceFor({ nat: true, mapping: 'endpoint-independent', filtering: 'endpoint-independent' });
    const verdict = classifyNat({ ...evidence, mappingTestI: { ...evidence.mappingTestI!, xorMappedAddress: mapped } });
    expect(verdict).toMatchObject({ nat: null, mapping: 'unknown', filtering: 'unknown', rfc3489: 'unknown', mappedAddress: null });
    expect(verdict.reasons.rfc3489).toMatch(reason);
  });

  it('leaves mapping unknown when test II is lost, never guesses', () => {
    const verdict = classifyNat({ ...evidenceFor(eim), mappingTestII: timeout('mapping test II', { ...OTHER, port: PRIMARY.port }) });
    expect(verdict).toMatchObject({ mapping: 'unknown', rfc3489: 'unknown', filtering: 'endpoint-independent' });
    expect(verdict.reasons.mapping).toMatch(/mapping test II .* got no usable response \(7 attempts/);
  });

  it('knows the NAT is symmetric when test II differs even if test III is lost', () => {
    const evidence = evidenceFor({ nat: true, mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent' });
    const verdict = classifyNat({ ...evidence, mappingTestIII: timeout('mapping test III', OTHER) });
    expect(verdict).toMatchObject({ mapping: 'unknown', rfc3489: 'symmetric' });
  });

  it('leaves filtering unknown when test II answered but test III was lost (inconsistent)', () => {
    const verdict = classifyNat({ ...evidenceFor(eim), filteringTestIII: timeout('filtering test III', PRIMARY) });
    expect(verdict).toMatchObject({ filtering: 'unknown', rfc3489: 'unknown' });
    expect(verdict.reasons.filtering).toMatch(/inconsistent/);
  });

  it('leaves filtering unknown when the server ignores CHANGE-REQUEST (answers from the primary address)', () => {
    const evidence = evidenceFor(eim);
    const ignored = { ...evidence.filteringTestII!, responseFrom: PRIMARY, responseOrigin: PRIMARY };
    const verdict = classifyNat({ ...evidence, filteringTestII: ignored });
    expect(verdict.filtering).toBe('unknown');
    expect(verdict.reasons.filtering).toMatch(/came from 203\.0\.113\.1:3478 .*not 203\.0\.113\.2:3479: the server does not honour CHANGE-REQUEST/);
  });

  it('catches a reply that claims (RESPONSE-ORIGIN) to come from the changed address but did not', () => {
    const evidence = evidenceFor(eim);
    const liar = { ...evidence.filteringTestII!, responseFrom: PRIMARY, responseOrigin: OTHER };
    expect(classifyNat({ ...evidence, filteringTestII: liar }).filtering).toBe('unknown');
  });

  it('leaves filtering unknown when the server answers CHANGE-REQUEST with 420', () => {
    const evidence = evidenceFor(eim);
    const refused: BindingObservation = { ...evidence.filteringTestII!, outcome: 'error-response', errorCode: 420, responseFrom: PRIMARY };
    const verdict = classifyNat({ ...evidence, filteringTestII: refused });
    expect(verdict.filtering).toBe('unknown');
    expect(verdict.reasons.filtering).toMatch(/error 420/);
  });

  it('distrusts an OTHER-ADDRESS that does not differ in both IP and port', () => {
    const evidence = evidenceFor(eim);
    const testI = { ...evidence.mappingTestI!, otherAddress: transportAddress(PRIMARY.address, 3479) };
    expect(classifyNat({ ...evidence, mappingTestI: testI }).mapping).toBe('unknown');
  });

  describe('a server without OTHER-ADDRESS', () => {
    const plain = (mapped: TransportAddress, destination: TransportAddress): BindingObservation =>
      observation('mapping test I', 40000, destination, { xorMappedAddress: mapped });
    const server2 = transportAddress('198.51.100.50', 19302);

    it('finds endpoint-independent mapping by comparing two servers, and says filtering needs RFC 5780', () => {
      const mapped = transportAddress(PUBLIC_IP, 50000);
      const verdict = classifyNat({ localAddresses: [LOCAL_IP], mappingTestI: plain(mapped, PRIMARY), comparisons: [plain(mapped, server2)] });
      expect(verdict).toMatchObject({ nat: true, mapping: 'endpoint-independent', filtering: 'unknown', rfc3489: 'unknown' });
      expect(verdict.reasons.filtering).toMatch(/needs an RFC 5780 server/);
    });

    it('says symmetric when two servers see different mappings, leaving the exact mapping unknown', () => {
      const verdict = classifyNat({
        localAddresses: [LOCAL_IP],
        mappingTestI: plain(transportAddress(PUBLIC_IP, 50000), PRIMARY),
        comparisons: [plain(transportAddress(PUBLIC_IP, 50001), server2)],
      });
      expect(verdict).toMatchObject({ mapping: 'unknown', rfc3489: 'symmetric' });
    });

    it('cannot decide the mapping with one server', () => {
      const verdict = classifyNat({ localAddresses: [LOCAL_IP], mappingTestI: plain(transportAddress(PUBLIC_IP, 50000), PRIMARY) });
      expect(verdict.mapping).toBe('unknown');
      expect(verdict.reasons.mapping).toMatch(/no OTHER-ADDRESS/);
    });
  });
});

describe('classifyNat: hairpinning and ALG rewriting', () => {
  const eim: Scenario = { nat: true, mapping: 'endpoint-independent', filtering: 'endpoint-independent' };
  it.each([true, false])('reports hairpinning %s from the hairpin test', (hairpin) => {
    expect(classifyNat(evidenceFor({ ...eim, hairpin })).hairpinning).toBe(hairpin);
  });
  it('reports hairpinning unknown when it was not tested', () => {
    expect(classifyNat({ ...evidenceFor(eim), hairpinning: undefined }).hairpinning).toBeNull();
  });
  it('detects an ALG that rewrote MAPPED-ADDRESS but not XOR-MAPPED-ADDRESS', () => {
    const evidence = evidenceFor(eim);
    const testI = { ...evidence.mappingTestI!, mappedAddress: transportAddress(LOCAL_IP, 40000) };
    const verdict = classifyNat({ ...evidence, mappingTestI: testI });
    expect(verdict.algRewriting).toBe(true);
    expect(verdict.mappedAddress).toBe(`${PUBLIC_IP}:50000`);
  });
});
