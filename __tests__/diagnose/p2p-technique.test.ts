import { describe, expect, it } from '@jest/globals';
import { birthdayProbability, birthdayProbesFor } from '../../src/diagnose/birthday.js';
import { decideP2pTechnique, predictsDirect, type P2pPrediction, type P2pSideNat } from '../../src/diagnose/p2p-technique.js';
import { predictNextPorts } from '../../src/diagnose/port-prediction.js';

const nat = (mapping: P2pSideNat['mapping'], filtering: P2pSideNat['filtering'], pattern: P2pSideNat['portAllocation']['pattern'] = 'preserved', delta?: number): P2pSideNat => ({
  mapping,
  filtering,
  portAllocation: { pattern, ...(delta === undefined ? {} : { delta }) },
});

// The lab's presets as their classifications read.
const NATS: Record<string, P2pSideNat> = {
  'open-internet': nat('endpoint-independent', 'endpoint-independent'),
  'firewall-only': nat('endpoint-independent', 'address-and-port-dependent'),
  'full-cone': nat('endpoint-independent', 'endpoint-independent'),
  'restricted-cone': nat('endpoint-independent', 'address-dependent'),
  'port-restricted-cone': nat('endpoint-independent', 'address-and-port-dependent'),
  'symmetric-random': nat('address-and-port-dependent', 'address-and-port-dependent', 'random'),
  'symmetric-sequential': nat('address-and-port-dependent', 'address-and-port-dependent', 'sequential', 1),
};

const table: Array<[string, string, P2pPrediction, P2pPrediction]> = [
  // self, peer, with birthday, without birthday
  ['open-internet', 'symmetric-random', 'direct', 'direct'],
  ['full-cone', 'full-cone', 'direct', 'direct'],
  ['port-restricted-cone', 'port-restricted-cone', 'direct', 'direct'],
  ['firewall-only', 'port-restricted-cone', 'direct', 'direct'],
  ['restricted-cone', 'symmetric-random', 'direct', 'direct'],
  ['full-cone', 'symmetric-sequential', 'direct', 'direct'],
  ['port-restricted-cone', 'symmetric-sequential', 'port-prediction', 'port-prediction'],
  ['firewall-only', 'symmetric-random', 'birthday', 'relay-needed'],
  ['port-restricted-cone', 'symmetric-random', 'birthday', 'relay-needed'],
  ['symmetric-sequential', 'symmetric-sequential', 'port-prediction', 'port-prediction'],
  ['symmetric-sequential', 'symmetric-random', 'relay-needed', 'relay-needed'],
  ['symmetric-random', 'symmetric-random', 'relay-needed', 'relay-needed'],
];

describe('decideP2pTechnique (RFC 4787 mapping, filtering and port allocation of both sides)', () => {
  it.each(table)('%s with %s: %s (birthday allowed), %s (not)', (a, b, withBirthday, without) => {
    for (const [self, peer] of [[a, b], [b, a]] as const) {
      expect(decideP2pTechnique(NATS[self]!, NATS[peer]!, { birthday: true }).predicted).toBe(withBirthday);
      expect(decideP2pTechnique(NATS[self]!, NATS[peer]!, { birthday: false }).predicted).toBe(without);
    }
  });

  it('gives the two sides of a birthday pair opposite roles', () => {
    const easy = decideP2pTechnique(NATS['port-restricted-cone']!, NATS['symmetric-random']!, { birthday: true });
    const hard = decideP2pTechnique(NATS['symmetric-random']!, NATS['port-restricted-cone']!, { birthday: true });
    expect(easy.role.birthday).toBe('probe-random-ports');
    expect(hard.role.birthday).toBe('open-sockets');
    expect(hard.reason).toMatch(/your NAT gives a new random port for every destination and the peer's filters by port/);
  });

  it('has only the easy side of a prediction pair send to predicted ports, and both in lockstep when both are predictable', () => {
    expect(decideP2pTechnique(NATS['port-restricted-cone']!, NATS['symmetric-sequential']!, { birthday: true }).role.checkPeerPredicted).toBe(true);
    expect(decideP2pTechnique(NATS['symmetric-sequential']!, NATS['port-restricted-cone']!, { birthday: true }).role.checkPeerPredicted).toBe(false);
    expect(decideP2pTechnique(NATS['symmetric-sequential']!, NATS['symmetric-sequential']!, { birthday: true }).role).toMatchObject({ lockstep: true, checkPeerCandidates: false });
  });

  it('says unknown, with the reason, when a needed behaviour is unknown', () => {
    const decision = decideP2pTechnique(nat('unknown', 'unknown', 'unknown'), NATS['port-restricted-cone']!, { birthday: true });
    expect(decision.predicted).toBe('unknown');
    expect(decision.reason).toMatch(/mapping of your NAT is unknown/);
    expect(decideP2pTechnique(NATS['port-restricted-cone']!, nat('address-and-port-dependent', 'address-and-port-dependent', 'unknown'), { birthday: true }).predicted).toBe('unknown');
  });

  it('maps predictions to whether a direct path is expected', () => {
    expect(predictsDirect('birthday')).toBe(true);
    expect(predictsDirect('relay-needed')).toBe(false);
    expect(predictsDirect('unknown')).toBeNull();
  });
});

describe('predictNextPorts (RFC 4787 §4.2.2)', () => {
  it('predicts the next ports by the stride, in order', () => {
    expect(predictNextPorts({ pattern: 'sequential', delta: 256 }, 10000, 5555, 3)).toEqual([10256, 10512, 10768]);
  });
  it('predicts the local port for a port-preserving NAT, and nothing for a random one', () => {
    expect(predictNextPorts({ pattern: 'preserved' }, 10000, 5555)).toEqual([5555]);
    expect(predictNextPorts({ pattern: 'random' }, 10000, 5555)).toEqual([]);
  });
  it('stays within the port range', () => {
    expect(predictNextPorts({ pattern: 'sequential', delta: 10 }, 65520, 1, 4)).toEqual([65530]);
  });
});

describe('birthdayProbability', () => {
  it('is about 1 − e^(−N·B/R) for small draws', () => {
    expect(birthdayProbability(256, 64512, 1000)).toBeCloseTo(1 - Math.exp((-256 * 1000) / 64512), 2);
  });
  it('reaches 1 when the probes cover the range and 0 without probes or open ports', () => {
    expect(birthdayProbability(1, 100, 100)).toBe(1);
    expect(birthdayProbability(256, 64512, 0)).toBe(0);
    expect(birthdayProbability(0, 64512, 100)).toBe(0);
  });
  it('gives the probes needed for a target, and the default budget gives more than 95%', () => {
    const probes = birthdayProbesFor(256, 64512, 0.95)!;
    expect(probes).toBeGreaterThan(700);
    expect(probes).toBeLessThan(800);
    expect(birthdayProbability(256, 64512, probes)).toBeGreaterThanOrEqual(0.95);
    expect(birthdayProbability(256, 64512, probes - 1)).toBeLessThan(0.95);
  });
});
