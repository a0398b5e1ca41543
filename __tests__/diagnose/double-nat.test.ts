import { describe, expect, it } from '@jest/globals';
import { classifyExternalAddress, decideDoubleNat, type DoubleNatEvidence } from '../../src/diagnose/double-nat.js';

describe('classifyExternalAddress', () => {
  it.each([
    ['100.64.0.2', 'carrier-grade'],
    ['100.127.255.255', 'carrier-grade'],
    ['100.128.0.1', 'public'],
    ['10.1.2.3', 'private'],
    ['172.31.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['203.0.113.11', 'reserved'],
    ['198.51.100.1', 'reserved'],
    ['192.0.3.11', 'public'],
    ['8.8.8.8', 'public'],
  ])('%s is %s', (address, kind) => {
    expect(classifyExternalAddress(address)).toBe(kind);
  });
});

describe('decideDoubleNat', () => {
  const router = (address: string): DoubleNatEvidence['routerExternalAddresses'] => [{ protocol: 'natPmp', address }];
  it.each<[string, DoubleNatEvidence, boolean | null, boolean | null]>([
    ['a router with a public address the internet also sees', { routerExternalAddresses: router('192.0.3.11'), publicMappedAddress: { address: '192.0.3.11', source: 'STUN' } }, false, false],
    ['a router with a public address and nothing to compare', { routerExternalAddresses: router('192.0.3.11') }, false, false],
    ['a router holding a carrier-grade address', { routerExternalAddresses: router('100.64.0.2') }, true, true],
    ['a router holding a private address', { routerExternalAddresses: router('192.168.0.2') }, true, null],
    ['a router whose address differs from what the internet sees', { routerExternalAddresses: router('192.0.3.11'), publicMappedAddress: { address: '198.18.5.5', source: 'STUN' } }, true, null],
    ['a reserved router address the internet also sees (the lab)', { routerExternalAddresses: router('203.0.113.11'), publicMappedAddress: { address: '203.0.113.11', source: 'STUN' } }, false, false],
    ['a reserved router address and nothing to compare', { routerExternalAddresses: router('203.0.113.11') }, null, null],
    ['PCP ADDRESS_MISMATCH', { routerExternalAddresses: [], pcpAddressMismatch: true }, true, null],
    ['a refusing router whose next hop is carrier-grade', { routerExternalAddresses: [], routerRefusal: 'NAT-PMP result 3', gateway: '192.168.1.1', hops: [{ hop: 1, address: '192.168.1.1' }, { hop: 2, address: '100.64.0.1' }] }, true, true],
    ['a refusing router whose next hop is private', { routerExternalAddresses: [], routerRefusal: 'NAT-PMP result 3', gateway: '192.168.1.1', hops: [{ hop: 1, address: '192.168.1.1' }, { hop: 2, address: '10.0.0.1' }] }, true, null],
    ['a refusing router with no trace', { routerExternalAddresses: [], routerRefusal: 'NAT-PMP result 3' }, null, null],
    ['a carrier-grade hop but a router with a public address', { routerExternalAddresses: router('192.0.3.11'), gateway: '192.168.1.1', hops: [{ hop: 2, address: '100.64.0.1' }] }, false, false],
    ['nothing at all', { routerExternalAddresses: [] }, null, null],
  ])('%s: doubleNat %s, carrierNat %s', (_name, evidence, doubleNat, carrierNat) => {
    const verdict = decideDoubleNat(evidence);
    expect(verdict.doubleNat).toBe(doubleNat);
    expect(verdict.carrierNat).toBe(carrierNat);
    expect(verdict.reasons.length).toBeGreaterThan(0);
  });
});
