import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { PcpResultCode, pcpResultName } from '../../src/codec/pcp/constants.js';
import { decodePcpAddress, decodePcpResponse, encodePcpAddress, encodePcpRequest, encodePcpResponse } from '../../src/codec/pcp/messages.js';

const vectors = JSON.parse(readFileSync(new URL('../../fixtures/port-mapping-vectors.json', import.meta.url), 'utf8')).pcp as Record<string, Record<string, any>>;
const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('PCP codec (RFC 6887)', () => {
  it('writes IPv4 addresses IPv4-mapped (§5) and reads them back as plain IPv4', () => {
    expect(hex(encodePcpAddress('192.0.2.10'))).toBe('00000000000000000000ffffc000020a');
    expect(decodePcpAddress(bytes('00000000000000000000ffffc000020a'))).toBe('192.0.2.10');
    expect(decodePcpAddress(encodePcpAddress('2001:db8::1'))).toBe('2001:db8::1');
  });

  it('encodes ANNOUNCE (§14.1): version 2, opcode 0, lifetime 0, the client address', () => {
    expect(hex(encodePcpRequest({ opcode: 'announce', clientAddress: vectors.announceRequest!.clientAddress }))).toBe(vectors.announceRequest!.hex);
  });

  it('decodes the ANNOUNCE response miniupnpd sent: SUCCESS and its epoch', () => {
    expect(decodePcpResponse(bytes(vectors.announceResponseMiniupnpd!.hex))).toEqual({ opcode: 0, resultCode: 0, lifetimeSeconds: 0, epochSeconds: 2, options: [] });
  });

  it('encodes a MAP request (§11.1) with nonce, protocol 17, ports and the all-zeros IPv4-mapped suggestion', () => {
    const v = vectors.mapRequest!;
    const encoded = encodePcpRequest({
      opcode: 'map',
      clientAddress: v.clientAddress,
      lifetimeSeconds: v.lifetimeSeconds,
      nonce: bytes(v.nonceHex),
      protocol: 'udp',
      internalPort: v.internalPort,
      suggestedExternalPort: v.suggestedExternalPort,
      suggestedExternalAddress: v.suggestedExternalAddress,
    });
    expect(hex(encoded)).toBe(v.hex);
  });

  it('decodes a MAP response: assigned port, address, lifetime, epoch; and encodes it back', () => {
    const v = vectors.mapResponse!;
    const decoded = decodePcpResponse(bytes(v.hex));
    expect(decoded).toEqual({
      opcode: 1,
      resultCode: 0,
      lifetimeSeconds: v.lifetimeSeconds,
      epochSeconds: v.epochSeconds,
      map: { nonce: bytes(v.nonceHex), protocolNumber: 17, internalPort: v.internalPort, externalPort: v.externalPort, externalAddress: v.externalAddress },
      options: [],
    });
    expect(hex(encodePcpResponse(decoded as never))).toBe(v.hex);
  });

  it('decodes an IPv6 external address as it is', () => {
    expect(decodePcpResponse(bytes(vectors.mapResponseIpv6!.hex))).toMatchObject({ map: { externalAddress: vectors.mapResponseIpv6!.externalAddress } });
  });

  it('reads ADDRESS_MISMATCH (result 12) with the error lifetime', () => {
    const decoded = decodePcpResponse(bytes(vectors.addressMismatch!.hex));
    expect(decoded).toMatchObject({ resultCode: PcpResultCode.ADDRESS_MISMATCH, lifetimeSeconds: 30 });
    expect(pcpResultName(12)).toBe('ADDRESS_MISMATCH');
  });

  it('reads options after the opcode data, padded to 4 bytes (§7.3)', () => {
    const withOption = encodePcpResponse({ opcode: 0, resultCode: 0, lifetimeSeconds: 0, epochSeconds: 5, options: [{ code: 1, data: Uint8Array.of(1, 2, 3, 4, 5) }] });
    expect(withOption.length).toBe(24 + 4 + 8);
    expect(decodePcpResponse(withOption)).toMatchObject({ options: [{ code: 1, data: Uint8Array.of(1, 2, 3, 4, 5) }] });
  });

  it.each([
    ['a truncated header', '02800000'],
    ['a request (R bit clear)', vectors.announceRequest!.hex],
    ['version 3', '038000000000000000000002000000000000000000000000'],
    ['a length that is not a multiple of 4', `${vectors.announceResponseMiniupnpd!.hex}00`],
    ['more than 1100 bytes', `0280${'00'.repeat(1102)}`],
    ['an option running past the end', `${vectors.announceResponseMiniupnpd!.hex}01000010`],
    ['a successful MAP response without its opcode data', '028100000000000000000002000000000000000000000000'],
  ])('calls %s malformed without throwing', (_name, text) => {
    expect(decodePcpResponse(bytes(text))).toMatchObject({ type: 'malformed' });
  });

  it('recognises a NAT-PMP server answering PCP with version 0 (§9)', () => {
    expect(decodePcpResponse(bytes('0080000100000010'))).toMatchObject({ type: 'malformed', natPmpVersion: true });
  });

  it('refuses a nonce that is not 12 bytes', () => {
    expect(() => encodePcpRequest({ opcode: 'map', clientAddress: '192.0.2.10', lifetimeSeconds: 1, nonce: new Uint8Array(4), protocol: 'udp', internalPort: 1, suggestedExternalPort: 1, suggestedExternalAddress: '0.0.0.0' })).toThrow(/12 bytes, not 4/);
  });
});
