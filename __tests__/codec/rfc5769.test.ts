import { describe, expect, it } from '@jest/globals';
import { decodeStunMessage, verifyMessageIntegrity } from '../../src/codec/decode.js';
import { encodeBindingSuccessResponse } from '../../src/codec/encode.js';
import { AttributeType, MessageType } from '../../src/codec/constants.js';
import { transportAddress } from '../../src/codec/transport-address.js';
import { bytesOf, longTermKey, rfc5769 } from '../helpers/fixtures.js';

const shortTermKey = (password: string): Uint8Array => new Uint8Array(Buffer.from(password, 'utf8'));

describe('RFC 5769 test vectors', () => {
  it('§2.1 sample request: decodes SOFTWARE and USERNAME, checks FINGERPRINT and MESSAGE-INTEGRITY', () => {
    const bytes = bytesOf(rfc5769.sampleRequest);
    const message = decodeStunMessage(bytes);
    expect(message.messageType).toBe(MessageType.BINDING_REQUEST);
    expect(message.software).toBe('STUN test client');
    expect(message.username).toBe('evtj:h6vY');
    expect(message.hasFingerprint).toBe(true);
    expect(verifyMessageIntegrity(bytes, shortTermKey(rfc5769.sampleRequest.password))).toBe(true);
    expect(verifyMessageIntegrity(bytes, shortTermKey('wrong password'))).toBe(false);
  });

  it('§2.2 sample IPv4 response: XOR-MAPPED-ADDRESS is 192.0.2.1:32853', () => {
    const bytes = bytesOf(rfc5769.sampleIPv4Response);
    const message = decodeStunMessage(bytes);
    expect(message.messageType).toBe(MessageType.BINDING_SUCCESS_RESPONSE);
    expect(message.software).toBe('test vector');
    expect(message.xorMappedAddress).toEqual(transportAddress('192.0.2.1', 32853));
    expect(verifyMessageIntegrity(bytes, shortTermKey(rfc5769.sampleIPv4Response.password))).toBe(true);
  });

  it('§2.3 sample IPv6 response: XOR-MAPPED-ADDRESS is [2001:db8:1234:5678:11:2233:4455:6677]:32853', () => {
    const bytes = bytesOf(rfc5769.sampleIPv6Response);
    const message = decodeStunMessage(bytes);
    expect(message.xorMappedAddress).toEqual(transportAddress('2001:db8:1234:5678:11:2233:4455:6677', 32853));
    expect(verifyMessageIntegrity(bytes, shortTermKey(rfc5769.sampleIPv6Response.password))).toBe(true);
  });

  it('§2.4 sample request with long-term authentication: USERNAME, NONCE, REALM and MESSAGE-INTEGRITY', () => {
    const vector = rfc5769.sampleRequestLongTerm;
    const bytes = bytesOf(vector);
    const message = decodeStunMessage(bytes);
    expect(message.username).toBe(vector.username);
    expect(message.nonce).toBe(vector.nonce);
    expect(message.realm).toBe(vector.realm);
    expect(verifyMessageIntegrity(bytes, longTermKey(vector.username ?? '', vector.realm ?? '', vector.password))).toBe(true);
  });

  it('rejects each vector with one bit flipped, by FINGERPRINT', () => {
    for (const vector of [rfc5769.sampleRequest, rfc5769.sampleIPv4Response, rfc5769.sampleIPv6Response]) {
      const bytes = bytesOf(vector);
      bytes[30] = (bytes[30] ?? 0) ^ 0x01;
      expect(() => decodeStunMessage(bytes)).toThrow(/FINGERPRINT .* does not match/);
    }
  });

  it.each([
    ['IPv4', rfc5769.sampleIPv4Response],
    ['IPv6', rfc5769.sampleIPv6Response],
  ])('encodes the %s XOR-MAPPED-ADDRESS to the same bytes as the RFC', (_family, vector) => {
    const expected = bytesOf(vector);
    const transactionId = expected.slice(8, 20);
    const address = vector.xorMappedAddress ?? { address: '', port: 0 };
    const encoded = encodeBindingSuccessResponse({
      transactionId,
      xorMappedAddress: transportAddress(address.address, address.port),
      fingerprint: false,
    });
    const valueLength = address.address.includes(':') ? 20 : 8;
    // In the vectors XOR-MAPPED-ADDRESS follows the 16-byte SOFTWARE attribute at offset 20.
    const expectedAttribute = expected.subarray(36, 36 + 4 + valueLength);
    expect(Buffer.from(encoded.subarray(20, 20 + 4 + valueLength)).toString('hex')).toBe(
      Buffer.from(expectedAttribute).toString('hex'),
    );
    expect(encoded[20]).toBe(AttributeType.XOR_MAPPED_ADDRESS >> 8);
    expect(decodeStunMessage(encoded).xorMappedAddress).toEqual(transportAddress(address.address, address.port));
  });
});

describe('why src/codec decodes some attributes itself', () => {
  it('the stun package alone decodes the RFC 5769 §2.3 IPv6 XOR-MAPPED-ADDRESS wrongly and accepts a corrupted FINGERPRINT', async () => {
    const { default: stun } = await import('stun');
    const ipv6 = stun.decode(Buffer.from(bytesOf(rfc5769.sampleIPv6Response)));
    expect((ipv6.getAttribute(AttributeType.XOR_MAPPED_ADDRESS)?.value as { address: string }).address).not.toBe('2001:db8:1234:5678:11:2233:4455:6677');
    const corrupted = Buffer.from(bytesOf(rfc5769.sampleIPv4Response));
    corrupted[30] = (corrupted[30] ?? 0) ^ 0x01;
    expect(() => stun.decode(corrupted)).not.toThrow();
    expect(() => decodeStunMessage(new Uint8Array(corrupted))).toThrow(/FINGERPRINT/);
  });
});
