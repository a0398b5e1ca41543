import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import {
  decodeNatPmpResponse,
  encodeNatPmpExternalAddressRequest,
  encodeNatPmpMapRequest,
  encodeNatPmpResponse,
  natPmpResultName,
} from '../../src/codec/natpmp.js';

const vectors = JSON.parse(readFileSync(new URL('../../fixtures/port-mapping-vectors.json', import.meta.url), 'utf8')).natPmp as Record<string, Record<string, any>>;
const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('NAT-PMP codec (RFC 6886)', () => {
  it('encodes the 2-byte external address request of §3.2', () => {
    expect(hex(encodeNatPmpExternalAddressRequest())).toBe(vectors.externalAddressRequest!.hex);
  });

  it('decodes the external address response of §3.2: result, epoch and address', () => {
    const v = vectors.externalAddressResponse!;
    expect(decodeNatPmpResponse(bytes(v.hex))).toEqual({ type: 'external-address', resultCode: 0, epochSeconds: v.epochSeconds, externalAddress: v.externalAddress });
  });

  it('encodes the UDP mapping request of §3.3 and the delete of §3.4', () => {
    const v = vectors.mapUdpRequest!;
    expect(hex(encodeNatPmpMapRequest({ protocol: 'udp', internalPort: v.internalPort, suggestedExternalPort: v.suggestedExternalPort, lifetimeSeconds: v.lifetimeSeconds }))).toBe(v.hex);
    expect(hex(encodeNatPmpMapRequest({ protocol: 'udp', internalPort: 5000, suggestedExternalPort: 0, lifetimeSeconds: 0 }))).toBe(vectors.deleteRequest!.hex);
  });

  it('decodes the mapping response of §3.3 and encodes it back to the same bytes', () => {
    const v = vectors.mapUdpResponse!;
    const decoded = decodeNatPmpResponse(bytes(v.hex));
    expect(decoded).toEqual({ type: 'map', protocol: 'udp', resultCode: 0, epochSeconds: v.epochSeconds, internalPort: v.internalPort, externalPort: v.externalPort, lifetimeSeconds: v.lifetimeSeconds });
    expect(hex(encodeNatPmpResponse(decoded as never))).toBe(v.hex);
  });

  it('reads an 8-byte error reply (§3.5) and the result 3 miniupnpd sends behind another NAT', () => {
    expect(decodeNatPmpResponse(bytes(vectors.unsupportedVersionResponse!.hex))).toEqual({ type: 'error', opcode: 0, resultCode: 1, epochSeconds: 16 });
    expect(decodeNatPmpResponse(bytes(vectors.miniupnpdNetworkFailure!.hex))).toMatchObject({ type: 'external-address', resultCode: 3, epochSeconds: 2, externalAddress: '0.0.0.0' });
    expect(natPmpResultName(3)).toBe('Network Failure');
    expect(natPmpResultName(99)).toBe('result 99');
  });

  it.each([
    ['an empty datagram', ''],
    ['a truncated header', '008000'],
    ['a request echoed back', '0000'],
    ['a PCP message', '028000000000000000000002000000000000000000000000'],
    ['a successful mapping response cut short', '008100000000123413881389'],
  ])('calls %s malformed without throwing', (_name, text) => {
    expect(decodeNatPmpResponse(bytes(text))).toMatchObject({ type: 'malformed' });
  });
});
