import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { transportAddress } from '../../src/codec/transport-address.js';
import { StunServerProtocol, type ServerAction, type ServerSocketKey } from '../../src/protocol/stun-server.js';

const client = transportAddress('198.51.100.7', 40000);
const server = (): StunServerProtocol =>
  new StunServerProtocol({ primaryAddress: '192.0.2.1', primaryPort: 3478, alternateAddress: '192.0.2.2', alternatePort: 3479, software: 'natscope test' });

/** An RFC 3489 §11.1 Binding request: no magic cookie, a 128-bit transaction ID, optionally CHANGE-REQUEST. */
function legacyRequest(changeFlags?: number): Buffer {
  const out = Buffer.alloc(20 + (changeFlags === undefined ? 0 : 8));
  out.writeUInt16BE(0x0001, 0);
  out.writeUInt16BE(out.length - 20, 2);
  randomBytes(16).copy(out, 4);
  if (out.readUInt32BE(4) === 0x2112a442) out[4] = 0;
  if (changeFlags !== undefined) {
    out.writeUInt16BE(0x0003, 20);
    out.writeUInt16BE(4, 22);
    out.writeUInt32BE(changeFlags, 24);
  }
  return out;
}

/** The attributes of an RFC 3489 message as type → value (an independent little parser). */
function attributesOf(bytes: Uint8Array): Map<number, Buffer> {
  const b = Buffer.from(bytes);
  const map = new Map<number, Buffer>();
  for (let at = 20; at < b.length; ) {
    const length = b.readUInt16BE(at + 2);
    map.set(b.readUInt16BE(at), b.subarray(at + 4, at + 4 + length));
    at += 4 + ((length + 3) & ~3);
  }
  return map;
}

const address = (value: Buffer | undefined): string => (value === undefined ? 'absent' : `${[...value.subarray(4)].join('.')}:${value.readUInt16BE(2)}`);

function sent(action: ServerAction): Extract<ServerAction, { type: 'send' }> {
  if (action.type !== 'send') throw new Error(`expected a send, got ignore (${action.reason})`);
  return action;
}

describe('RFC 3489 clients (RFC 8489 §12)', () => {
  it('answers a cookieless Binding request with MAPPED-ADDRESS, SOURCE-ADDRESS and CHANGED-ADDRESS, echoing the 128-bit transaction ID', () => {
    const protocol = server();
    const request = legacyRequest();
    const action = sent(protocol.handleDatagram(0, request, client, { address: 'primary', port: 'primary' }));
    const response = Buffer.from(action.bytes);
    expect(response.readUInt16BE(0)).toBe(0x0101);
    expect(response.subarray(4, 20)).toEqual(request.subarray(4, 20));
    expect(response.readUInt16BE(2)).toBe(response.length - 20);
    const attributes = attributesOf(response);
    expect([...attributes.keys()]).toEqual([0x0001, 0x0004, 0x0005]);
    expect(address(attributes.get(0x0001))).toBe('198.51.100.7:40000');
    expect(address(attributes.get(0x0004))).toBe('192.0.2.1:3478');
    expect(address(attributes.get(0x0005))).toBe('192.0.2.2:3479');
    expect(protocol.stats.requests).toEqual({ rfc8489: 0, rfc3489: 1 });
  });

  it.each([
    [0x06, { address: 'alternate', port: 'alternate' }, '192.0.2.2:3479'],
    [0x04, { address: 'alternate', port: 'primary' }, '192.0.2.2:3478'],
    [0x02, { address: 'primary', port: 'alternate' }, '192.0.2.1:3479'],
    [0x00, { address: 'primary', port: 'primary' }, '192.0.2.1:3478'],
  ] as Array<[number, ServerSocketKey, string]>)('honours CHANGE-REQUEST 0x%s: answers from %j, SOURCE-ADDRESS %s', (flags, via, origin) => {
    const action = sent(server().handleDatagram(0, legacyRequest(flags), client, { address: 'primary', port: 'primary' }));
    expect(action.via).toEqual(via);
    expect(address(attributesOf(action.bytes).get(0x0004))).toBe(origin);
    expect(action.bytes.length).toBeLessThanOrEqual(28 * 5);
  });

  it('answers a legacy CHANGE-REQUEST with 420 and no FINGERPRINT when the server has one address', () => {
    const single = new StunServerProtocol({ primaryAddress: '192.0.2.1', primaryPort: 3478 });
    const action = sent(single.handleDatagram(0, legacyRequest(0x06), client, { address: 'primary', port: 'primary' }));
    expect(Buffer.from(action.bytes).readUInt16BE(0)).toBe(0x0111);
    expect([...attributesOf(action.bytes).keys()]).toEqual([0x0009, 0x000a]);
  });

  it('answers an RFC 3489 client over IPv6 with IPv6 addresses (family 0x02)', () => {
    const v6 = new StunServerProtocol({ primaryAddress: '2001:db8::1', primaryPort: 3478, alternateAddress: '2001:db8::2', alternatePort: 3479 });
    const action = sent(v6.handleDatagram(0, legacyRequest(0x04), transportAddress('2001:db8:ffff::7', 5000), { address: 'primary', port: 'primary' }));
    expect(action.via).toEqual({ address: 'alternate', port: 'primary' });
    const attributes = attributesOf(action.bytes);
    const mapped = attributes.get(0x0001)!;
    expect(mapped[1]).toBe(0x02);
    expect(mapped.readUInt16BE(2)).toBe(5000);
    expect(mapped.subarray(4).toString('hex')).toBe('20010db8ffff00000000000000000007');
    expect(attributes.get(0x0004)!.subarray(4).toString('hex')).toBe('20010db8000000000000000000000002');
    expect(attributes.get(0x0005)!.subarray(4).toString('hex')).toBe('20010db8000000000000000000000002');
  });

  it('drops cookieless datagrams that are not Binding requests, and counts them as not STUN', () => {
    const protocol = server();
    const indication = legacyRequest();
    indication.writeUInt16BE(0x0011, 0);
    expect(protocol.handleDatagram(0, indication, client, { address: 'primary', port: 'primary' })).toEqual({ type: 'ignore', reason: 'not-stun' });
    expect(protocol.stats.drops['not-stun']).toBe(1);
  });
});
