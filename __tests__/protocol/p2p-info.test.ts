import { describe, expect, it } from '@jest/globals';
import { transportAddress } from '../../src/codec/transport-address.js';
import { decodeP2pInfo, deriveCheckKey, encodeP2pInfo, roomIdOf, type P2pPeerInfo } from '../../src/protocol/p2p-info.js';

const info: P2pPeerInfo = {
  ufrag: '0123456789abcdef',
  hosts: [transportAddress('192.0.2.10', 40000)],
  localPort: 40000,
  classification: { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', portAllocation: { pattern: 'sequential', delta: 256 }, rfc3489: 'symmetric' },
  birthday: { enabled: true, budget: 1500, sockets: 256 },
};

describe('p2p peer info and credentials', () => {
  it('round-trips the info a peer sends through the room', () => {
    expect(decodeP2pInfo(encodeP2pInfo(info))).toEqual(info);
    expect(decodeP2pInfo(encodeP2pInfo({ ...info, classification: null }))?.classification).toBeNull();
  });

  it('refuses anything that is not exactly what a natscope peer sends', () => {
    const bad = [
      'not json',
      '{}',
      JSON.stringify({ ...JSON.parse(new TextDecoder().decode(encodeP2pInfo(info))), ufrag: 'ZZ' }),
      JSON.stringify({ ...JSON.parse(new TextDecoder().decode(encodeP2pInfo(info))), hosts: [['not-an-ip', 1]] }),
      JSON.stringify({ ...JSON.parse(new TextDecoder().decode(encodeP2pInfo(info))), localPort: 70000 }),
      JSON.stringify({ ...JSON.parse(new TextDecoder().decode(encodeP2pInfo(info))), classification: { mapping: 'sideways' } }),
      JSON.stringify({ ...JSON.parse(new TextDecoder().decode(encodeP2pInfo(info))), birthday: { enabled: 'yes', budget: 1, sockets: 1 } }),
    ];
    for (const text of bad) expect(decodeP2pInfo(new TextEncoder().encode(text))).toBeUndefined();
    expect(decodeP2pInfo(Uint8Array.from([0xff, 0xfe, 0x00]))).toBeUndefined();
  });

  it('derives the same check key on both sides, and another for another room', () => {
    const a = deriveCheckKey('garden-42', 'aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb');
    expect(deriveCheckKey('garden-42', 'bbbbbbbbbbbbbbbb', 'aaaaaaaaaaaaaaaa')).toEqual(a);
    expect(deriveCheckKey('garden-43', 'aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb')).not.toEqual(a);
  });

  it('sends the server a hash of the room name, never the name', () => {
    const id = roomIdOf('garden-42');
    expect(id).toHaveLength(16);
    expect(Buffer.from(id).toString('utf8')).not.toContain('garden');
    expect(roomIdOf('garden-42')).toEqual(id);
  });
});
