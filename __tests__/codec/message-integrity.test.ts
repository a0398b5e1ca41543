import { describe, expect, it } from '@jest/globals';
import { AttributeType } from '../../src/codec/constants.js';
import { decodeStunMessage, verifyMessageIntegrity } from '../../src/codec/decode.js';
import { createTransactionId, encodeBindingRequest, encodeBindingSuccessResponse } from '../../src/codec/encode.js';
import { transportAddress } from '../../src/codec/transport-address.js';

const key = new Uint8Array(Buffer.from('VOkJxbRl1RmTxUk/WvJxBt', 'utf8'));

describe('MESSAGE-INTEGRITY encoding (RFC 8489 §14.5, short-term credentials §9.1)', () => {
  it('signs a Binding request with USERNAME that the decoder verifies, with FINGERPRINT last', () => {
    const bytes = encodeBindingRequest({ transactionId: createTransactionId(), username: 'evtj:h6vY', integrityKey: key });
    const message = decodeStunMessage(bytes);
    expect(message.username).toBe('evtj:h6vY');
    expect(message.attributeTypes.slice(-2)).toEqual([AttributeType.MESSAGE_INTEGRITY, AttributeType.FINGERPRINT]);
    expect(verifyMessageIntegrity(bytes, key)).toBe(true);
    expect(verifyMessageIntegrity(bytes, new Uint8Array(Buffer.from('another password')))).toBe(false);
  });

  it('signs a success response, and a changed byte breaks the integrity', () => {
    const bytes = encodeBindingSuccessResponse({ transactionId: createTransactionId(), xorMappedAddress: transportAddress('192.0.2.1', 32853), integrityKey: key, fingerprint: false });
    expect(decodeStunMessage(bytes).xorMappedAddress).toEqual(transportAddress('192.0.2.1', 32853));
    expect(verifyMessageIntegrity(bytes, key)).toBe(true);
    const tampered = Uint8Array.from(bytes);
    tampered[27] = (tampered[27] ?? 0) ^ 1; // inside XOR-MAPPED-ADDRESS
    expect(verifyMessageIntegrity(tampered, key)).toBe(false);
  });

  it('leaves a message without a key unsigned', () => {
    const bytes = encodeBindingRequest({ transactionId: createTransactionId() });
    expect(decodeStunMessage(bytes).attributeTypes).toEqual([AttributeType.FINGERPRINT]);
    expect(verifyMessageIntegrity(bytes, key)).toBe(false);
  });
});
