import { describe, expect, it } from '@jest/globals';
import { AttributeType, MessageType } from '../../src/codec/constants.js';
import { decodeStunMessage } from '../../src/codec/decode.js';
import { createTransactionId, encodeBindingRequest, encodeBindingSuccessResponse } from '../../src/codec/encode.js';
import { transportAddress } from '../../src/codec/transport-address.js';
import { StunServerProtocol, type ServerAction, type ServerSocketKey } from '../../src/protocol/stun-server.js';
import { bytesOf, rfc5769, withRawAttribute } from '../helpers/fixtures.js';
import { seededRandom } from '../helpers/seeded-random.js';

const PP: ServerSocketKey = { address: 'primary', port: 'primary' };
const client = transportAddress('198.51.100.7', 40000);
const rfc5780Server = (): StunServerProtocol =>
  new StunServerProtocol({ primaryAddress: '192.0.2.1', primaryPort: 3478, alternateAddress: '192.0.2.2', alternatePort: 3479, software: 'natscope test' });

function sent(action: ServerAction): Extract<ServerAction, { type: 'send' }> {
  if (action.type !== 'send') throw new Error(`expected a send, got ignore (${action.reason})`);
  return action;
}

describe('StunServerProtocol (RFC 5780 §6.1)', () => {
  it('answers a Binding request with XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS, SOFTWARE, FINGERPRINT', () => {
    const transactionId = createTransactionId();
    const action = sent(rfc5780Server().handleDatagram(0, encodeBindingRequest({ transactionId }), client, PP));
    expect(action.via).toEqual(PP);
    expect(action.to).toEqual(client);
    const response = decodeStunMessage(action.bytes);
    expect(response.messageType).toBe(MessageType.BINDING_SUCCESS_RESPONSE);
    expect(Buffer.from(response.transactionId)).toEqual(Buffer.from(transactionId));
    expect(response.xorMappedAddress).toEqual(client);
    expect(response.mappedAddress).toEqual(client);
    expect(response.responseOrigin).toEqual(transportAddress('192.0.2.1', 3478));
    expect(response.otherAddress).toEqual(transportAddress('192.0.2.2', 3479));
    expect(response.software).toBe('natscope test');
    expect(response.hasFingerprint).toBe(true);
  });

  it.each([
    [{ changeIp: true, changePort: true }, { address: 'alternate', port: 'alternate' }, '192.0.2.2', 3479],
    [{ changeIp: true, changePort: false }, { address: 'alternate', port: 'primary' }, '192.0.2.2', 3478],
    [{ changeIp: false, changePort: true }, { address: 'primary', port: 'alternate' }, '192.0.2.1', 3479],
    [{ changeIp: false, changePort: false }, { address: 'primary', port: 'primary' }, '192.0.2.1', 3478],
  ])('answers CHANGE-REQUEST %j from socket %j', (changeRequest, via, originIp, originPort) => {
    const request = encodeBindingRequest({ transactionId: createTransactionId(), changeRequest });
    const action = sent(rfc5780Server().handleDatagram(0, request, client, PP));
    expect(action.via).toEqual(via);
    const response = decodeStunMessage(action.bytes);
    expect(response.responseOrigin).toEqual(transportAddress(originIp, originPort));
    // OTHER-ADDRESS is relative to where the request arrived, whatever socket answers.
    expect(response.otherAddress).toEqual(transportAddress('192.0.2.2', 3479));
  });

  it('gives OTHER-ADDRESS relative to the arrival socket', () => {
    const request = encodeBindingRequest({ transactionId: createTransactionId() });
    const action = sent(rfc5780Server().handleDatagram(0, request, client, { address: 'alternate', port: 'primary' }));
    expect(decodeStunMessage(action.bytes).otherAddress).toEqual(transportAddress('192.0.2.1', 3479));
  });

  it('answers CHANGE-REQUEST with 420 and UNKNOWN-ATTRIBUTES when it has one address', () => {
    const server = new StunServerProtocol({ primaryAddress: '192.0.2.1', primaryPort: 3478 });
    const request = encodeBindingRequest({ transactionId: createTransactionId(), changeRequest: { changeIp: true, changePort: true } });
    const response = decodeStunMessage(sent(server.handleDatagram(0, request, client, PP)).bytes);
    expect(response.messageType).toBe(MessageType.BINDING_ERROR_RESPONSE);
    expect(response.errorCode?.code).toBe(420);
    expect(response.unknownAttributes).toEqual([AttributeType.CHANGE_REQUEST]);
    expect(server.sockets()).toHaveLength(1);
  });

  it('answers an unknown comprehension-required attribute with 420 and ignores an unknown optional one', () => {
    const base = encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false });
    const required = decodeStunMessage(sent(rfc5780Server().handleDatagram(0, withRawAttribute(base, 0x7777, new Uint8Array(4)), client, PP)).bytes);
    expect(required.errorCode?.code).toBe(420);
    expect(required.unknownAttributes).toEqual([0x7777]);
    const optional = decodeStunMessage(sent(rfc5780Server().handleDatagram(0, withRawAttribute(base, 0xc777, new Uint8Array(4)), client, PP)).bytes);
    expect(optional.messageType).toBe(MessageType.BINDING_SUCCESS_RESPONSE);
  });

  it.each([2, 4])('sends to RESPONSE-PORT (value length %i) on the requester’s own IP', (length) => {
    const value = new Uint8Array(length);
    new DataView(value.buffer).setUint16(0, 5555);
    const request = withRawAttribute(encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false }), AttributeType.RESPONSE_PORT, value);
    const action = sent(rfc5780Server().handleDatagram(0, request, client, PP));
    expect(action.to).toEqual(transportAddress(client.address, 5555));
    expect(decodeStunMessage(action.bytes).xorMappedAddress).toEqual(client);
  });

  it('echoes a 1500-byte PADDING whole (RFC 5780 §7.6: fragmentation tests) and never answers with more than 5× the request', () => {
    const request = withRawAttribute(encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false }), AttributeType.PADDING, new Uint8Array(1500));
    const action = sent(rfc5780Server().handleDatagram(0, request, client, PP));
    expect(decodeStunMessage(action.bytes).paddingLength).toBe(1500);
    expect(action.bytes.length).toBeLessThanOrEqual(request.length * 5);
  });

  it('answers RESPONSE-PORT together with PADDING with error 400 (RFC 5780 §7.5)', () => {
    const withPort = withRawAttribute(encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false }), AttributeType.RESPONSE_PORT, Uint8Array.of(0x9c, 0x41, 0, 0));
    const request = withRawAttribute(withPort, AttributeType.PADDING, new Uint8Array(100));
    const action = sent(rfc5780Server().handleDatagram(0, request, client, PP));
    expect(action.to).toEqual(client);
    const response = decodeStunMessage(action.bytes);
    expect(response.messageType).toBe(MessageType.BINDING_ERROR_RESPONSE);
    expect(response.errorCode?.code).toBe(400);
  });

  it('keeps a bare 20-byte request’s answer within 5× by dropping optional attributes, IPv6 included', () => {
    const bare = encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false });
    expect(bare.length).toBe(20);
    const v4 = sent(rfc5780Server().handleDatagram(0, bare, client, PP));
    expect(v4.bytes.length).toBeLessThanOrEqual(100);
    expect(decodeStunMessage(v4.bytes).otherAddress).toBeDefined();
    const server6 = new StunServerProtocol({ primaryAddress: '2001:db8::1', primaryPort: 3478, alternateAddress: '2001:db8::2', alternatePort: 3479, software: 'x'.repeat(60) });
    const v6 = sent(server6.handleDatagram(0, bare, transportAddress('2001:db8::99', 4000), PP));
    expect(v6.bytes.length).toBeLessThanOrEqual(100);
    const response = decodeStunMessage(v6.bytes);
    expect(response.xorMappedAddress).toEqual(transportAddress('2001:db8::99', 4000));
    expect(response.otherAddress).toEqual(transportAddress('2001:db8::2', 3479));
  });

  it('ignores garbage, truncated messages, responses and indications', () => {
    const server = rfc5780Server();
    const request = encodeBindingRequest({ transactionId: createTransactionId() });
    expect(server.handleDatagram(0, new Uint8Array([1, 2, 3]), client, PP)).toMatchObject({ type: 'ignore', reason: 'not-stun' });
    expect(server.handleDatagram(0, request.subarray(0, request.length - 4), client, PP)).toMatchObject({ type: 'ignore', reason: 'not-stun' });
    const corrupted = Uint8Array.from(request);
    corrupted[request.length - 1] = (corrupted[request.length - 1] ?? 0) ^ 0xff;
    expect(server.handleDatagram(0, corrupted, client, PP)).toMatchObject({ type: 'ignore', reason: 'malformed' });
    expect(server.handleDatagram(0, bytesOf(rfc5769.sampleIPv4Response), client, PP)).toMatchObject({ type: 'ignore', reason: 'not-a-binding-request' });
    const indication = Uint8Array.from(request);
    indication[1] = 0x11;
    expect(server.handleDatagram(0, indication, client, PP)).toMatchObject({ type: 'ignore' });
    const response = encodeBindingSuccessResponse({ transactionId: createTransactionId(), xorMappedAddress: client });
    expect(server.handleDatagram(0, response, client, PP)).toMatchObject({ type: 'ignore', reason: 'not-a-binding-request' });
  });

  it('survives 20 000 random and mutated datagrams without throwing', () => {
    const server = new StunServerProtocol({ primaryAddress: '192.0.2.1', primaryPort: 3478, alternateAddress: '192.0.2.2', alternatePort: 3479, rateLimit: { packetsPerSecond: 1e9, burst: 1e9 } });
    const seed = encodeBindingRequest({ transactionId: createTransactionId(), changeRequest: { changeIp: true, changePort: false } });
    const uniform = seededRandom(12345);
    const random = (): number => Math.floor(uniform() * 0x80000000);
    let sends = 0;
    for (let i = 0; i < 20_000; i += 1) {
      const bytes = Uint8Array.from(seed);
      const flips = 1 + (random() % 4);
      for (let f = 0; f < flips; f += 1) bytes[random() % bytes.length] = random() & 0xff;
      const action = server.handleDatagram(i, i % 2 === 0 ? bytes : bytes.subarray(0, random() % bytes.length), client, PP);
      if (action.type === 'send') {
        sends += 1;
        expect(action.to.address).toBe(client.address);
        expect(action.bytes.length).toBeLessThanOrEqual(5 * bytes.length);
      }
    }
    // Some mutations keep a valid request (a flipped CHANGE-REQUEST flag), most do not.
    expect(sends).toBeGreaterThan(0);
    expect(sends).toBeLessThan(20_000);
  });

  it('rate-limits one source but not another', () => {
    const server = new StunServerProtocol({ primaryAddress: '192.0.2.1', primaryPort: 3478, rateLimit: { packetsPerSecond: 10, burst: 3 } });
    const request = encodeBindingRequest({ transactionId: createTransactionId() });
    const results = [0, 1, 2, 3].map(() => server.handleDatagram(1000, request, client, PP).type);
    expect(results).toEqual(['send', 'send', 'send', 'ignore']);
    expect(server.handleDatagram(1000, request, transportAddress('198.51.100.8', 1), PP).type).toBe('send');
    // 100 ms later one token has come back.
    expect(server.handleDatagram(1100, request, client, PP).type).toBe('send');
  });
});
