import { describe, expect, it } from '@jest/globals';
import { transportAddress } from '../../src/codec/transport-address.js';
import { classifyNat } from '../../src/diagnose/classify-nat.js';
import { gatherNatEvidence } from '../../src/probe/gather-nat-evidence.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { HOSTILE_BEHAVIOURS, answersOnlyWithChangeRequest, hostileNetwork, type HostileBehaviour } from '../helpers/hostile-stun-server.js';

const SERVER = transportAddress('198.51.100.1', 3478);

/** Classifies against one hostile server on a fake clock; returns the verdict, the evidence and the fake time it took. */
async function classifyAgainst(behaviour: string | HostileBehaviour) {
  const clock = new FakeClock();
  const network = hostileNetwork(clock, typeof behaviour === 'string' ? HOSTILE_BEHAVIOURS[behaviour]! : behaviour, SERVER, '192.0.2.10', '198.51.100.9');
  const evidence = await clock.run(gatherNatEvidence({ network, clock, servers: [SERVER], family: 'IPv4' }));
  return { verdict: classifyNat(evidence), evidence, elapsedMs: clock.nowMs() };
}

// [behaviour, the reason it must give, the most fake time it may take, the rejected datagrams counted on test I]
const cases: Array<[string, RegExp, number, Record<string, number> | undefined]> = [
  ['other-family', /198\.51\.100\.1:3478 answered mapping test I with an IPv6 address \(\[2001:db8::1\]:\d+\) to an IPv4 request/, 100, undefined],
  ['port-zero', /answered mapping test I with port 0/, 100, undefined],
  ['unspecified', /answered mapping test I with the unspecified address 0\.0\.0\.0/, 100, undefined],
  ['multicast', /answered mapping test I with the multicast address 224\.0\.0\.1/, 100, undefined],
  ['wrong-transaction-id', /198\.51\.100\.1:3478 answers, but its answers do not match the requests \(wrong transaction ID ×3\): the server is broken or something rewrites its replies/, 2000, { 'wrong-transaction-id': 3 }],
  ['other-port', /answers do not match the requests \(from another address than asked ×3\)/, 2000, undefined],
  ['other-ip', /answers do not match the requests \(from another address than asked ×3\)/, 2000, undefined],
  ['malformed-address', /answers do not match the requests \(malformed STUN ×3\)/, 2000, { 'malformed-stun': 3 }],
  ['stray-flood', /answers do not match the requests \(wrong transaction ID ×\d+\)/, 100, undefined],
  ['not-stun', /198\.51\.100\.1:3478 answers UDP but not STUN \(not STUN ×2\): is it an echo server\?/, 1000, { 'not-stun': 2 }],
  ['echo', /answers UDP but not STUN \(our own request sent back ×2\): is it an echo server\?/, 1000, { 'echoed-request': 2 }],
];

describe('classify against hostile STUN servers (fake clock): unknown with the reason, never a decided verdict, soon', () => {
  it.each(cases)('a server answering with %s', async (behaviour, reason, boundMs, rejected) => {
    const { verdict, evidence, elapsedMs } = await classifyAgainst(behaviour);
    expect(verdict.rfc3489).toBe('unknown');
    expect(verdict.nat).toBeNull();
    expect(verdict.mapping).toBe('unknown');
    expect(verdict.filtering).toBe('unknown');
    expect(verdict.reasons.rfc3489).toMatch(reason);
    expect(elapsedMs).toBeLessThanOrEqual(boundMs);
    if (rejected !== undefined) expect(evidence.firstContacts?.[0]?.rejected).toEqual(rejected);
  });

  it('counts a flood of stray responses by kind, ending at the third', async () => {
    const { evidence } = await classifyAgainst('stray-flood');
    expect(evidence.firstContacts?.[0]).toMatchObject({ outcome: 'broken-answers', attempts: 1, rejected: { 'wrong-transaction-id': 3 } });
  });
});

describe('classify against a server that answers only requests with a CHANGE-REQUEST (jstun)', () => {
  it('retries test I with an all-zero CHANGE-REQUEST after three silent tries, and sends one in every later plain test', async () => {
    const { verdict, evidence, elapsedMs } = await classifyAgainst(answersOnlyWithChangeRequest);
    expect(evidence.mappingTestI).toMatchObject({ outcome: 'response', changeRequest: { changeIp: false, changePort: false } });
    expect(evidence.allocationSamples?.every((o) => o.outcome === 'response' && o.changeRequest?.changeIp === false)).toBe(true);
    // The in-memory network has no NAT: the mapped address is the socket's own.
    expect(verdict).toMatchObject({ nat: false, mappedAddress: '192.0.2.10:40000' });
    // Answered at the twin's first try, sent with the plain request's third (at 1.5 s); the rest is the
    // hairpin test timing out on this network, which delivers only to the server.
    expect(evidence.mappingTestI?.attempts).toBe(1);
    expect(elapsedMs).toBeLessThan(3000);
  });
});
