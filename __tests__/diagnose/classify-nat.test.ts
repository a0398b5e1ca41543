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

  it('says udp-blocked when no server answers test I', () => {
    const verdict = classifyNat({ localAddresses: [LOCAL_IP], mappingTestI: timeout('mapping test I', PRIMARY), unreachable: [PRIMARY] });
    expect(verdict).toMatchObject({ nat: null, mapping: 'unknown', filtering: 'unknown', hairpinning: null, rfc3489: 'udp-blocked', mappedAddress: null });
    expect(verdict.reasons.rfc3489).toMatch(/no answer over UDP from 1 STUN server after 7 attempts/);
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
