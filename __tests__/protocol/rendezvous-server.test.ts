import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import type { DatagramAction } from '../../src/protocol/datagram-action.js';
import { decodeRendezvousMessage, encodeRendezvousMessage, RENDEZVOUS_MAGIC, RENDEZVOUS_MESSAGE_BYTES, type RendezvousMessage } from '../../src/protocol/rendezvous-messages.js';
import { RendezvousServerProtocol, type RendezvousSocketKey } from '../../src/protocol/rendezvous-server.js';

const ROOM = new Uint8Array(16).fill(3);
const alice = { peerId: new Uint8Array(8).fill(1), address: transportAddress('198.51.100.1', 40000) };
const bob = { peerId: new Uint8Array(8).fill(2), address: transportAddress('203.0.113.9', 50000) };
const carol = { peerId: new Uint8Array(8).fill(4), address: transportAddress('192.0.2.77', 60000) };
const server = (limits = {}) => new RendezvousServerProtocol({ address: '192.0.2.1', port: 3480, secret: new Uint8Array(32).fill(9), limits });

type Send = Extract<DatagramAction<RendezvousSocketKey>, { type: 'send' }>;
const sends = (actions: readonly DatagramAction<RendezvousSocketKey>[]): Send[] => actions.filter((a): a is Send => a.type === 'send');
const decoded = (action: Send): RendezvousMessage => decodeRendezvousMessage(action.bytes)!;

function cookieFor(rv: RendezvousServerProtocol, peer: { peerId: Uint8Array; address: TransportAddress }, at = 0, room = ROOM): Uint8Array {
  const [reply] = sends(rv.handleDatagram(at, encodeRendezvousMessage({ type: 'hello', roomId: room, peerId: peer.peerId }), peer.address));
  return decoded(reply!).cookie!;
}

function join(rv: RendezvousServerProtocol, peer: { peerId: Uint8Array; address: TransportAddress }, at: number, extra: Partial<RendezvousMessage> = {}, room = ROOM) {
  const cookie = extra.cookie ?? cookieFor(rv, peer, at, room);
  return rv.handleDatagram(at, encodeRendezvousMessage({ type: 'join', roomId: room, peerId: peer.peerId, cookie, nonce: new Uint8Array(8).fill(7), ...extra }), peer.address);
}

describe('RendezvousServerProtocol', () => {
  it('answers HELLO with a cookie and the address it saw, in a reply the size of the request', () => {
    const [reply] = sends(server().handleDatagram(0, encodeRendezvousMessage({ type: 'hello', roomId: ROOM, peerId: alice.peerId }), alice.address));
    expect(reply!.to).toEqual(alice.address);
    expect(reply!.bytes.length).toBe(RENDEZVOUS_MESSAGE_BYTES);
    expect(decoded(reply!)).toMatchObject({ type: 'cookie', observed: alice.address });
  });

  it('ignores a JOIN whose cookie was not given to that address (a spoofed source gets nothing)', () => {
    const rv = server();
    const cookie = cookieFor(rv, alice);
    const spoofed = rv.handleDatagram(0, encodeRendezvousMessage({ type: 'join', roomId: ROOM, peerId: alice.peerId, cookie }), carol.address);
    expect(spoofed).toEqual([{ type: 'ignore', reason: 'bad-cookie' }]);
    expect(rv.roomCount).toBe(0);
  });

  it('tells the first peer to wait, then sends each peer the other\'s info and a delay so both start at the same moment', () => {
    const rv = server();
    const waiting = sends(join(rv, alice, 0, { rttMs: 100, info: new TextEncoder().encode('alice-info') }));
    expect(waiting.map(decoded)).toMatchObject([{ type: 'waiting', observed: alice.address }]);

    const started = sends(join(rv, bob, 1000, { rttMs: 20, info: new TextEncoder().encode('bob-info') }));
    expect(started).toHaveLength(2);
    const toAlice = started.find((s) => s.to === alice.address || s.to.port === alice.address.port)!;
    const toBob = started.find((s) => s.to.port === bob.address.port)!;
    const a = decoded(toAlice);
    const b = decoded(toBob);
    expect(new TextDecoder().decode(a.info)).toBe('bob-info');
    expect(new TextDecoder().decode(b.info)).toBe('alice-info');
    expect(a).toMatchObject({ type: 'start', role: 'a', observed: bob.address });
    expect(b).toMatchObject({ type: 'start', role: 'b', observed: alice.address });
    // Each START arrives half an RTT after it leaves; each peer then waits its delay: both begin together.
    expect(1000 + 100 / 2 + a.delayMs!).toBe(1000 + 20 / 2 + b.delayMs!);
    expect(a.delayMs).toBeGreaterThanOrEqual(0);
  });

  it('repeats the START to a peer that polls again, with the delay shortened by the time gone', () => {
    const rv = server();
    join(rv, alice, 0, { rttMs: 40 });
    const first = decoded(sends(join(rv, bob, 1000, { rttMs: 40 })).find((s) => s.to.port === bob.address.port)!);
    const again = decoded(sends(join(rv, bob, 1030, { rttMs: 40 }))[0]!);
    expect(again.type).toBe('start');
    expect(again.delayMs).toBe(first.delayMs! - 30);
  });

  it('never gives a third peer anything of the room: it is full', () => {
    const rv = server();
    join(rv, alice, 0, { info: new TextEncoder().encode('secret-a') });
    join(rv, bob, 10, { info: new TextEncoder().encode('secret-b') });
    const replies = sends(join(rv, carol, 20));
    expect(replies).toHaveLength(1);
    expect(replies[0]!.to).toEqual(carol.address);
    expect(decoded(replies[0]!)).toMatchObject({ type: 'full' });
    expect(decoded(replies[0]!).info).toHaveLength(0);
  });

  it('lets a new peer in once a member has stopped polling, and forgets rooms after their lifetime', () => {
    const rv = server({ memberIdleMs: 5000, roomLifetimeMs: 60_000 });
    join(rv, alice, 0);
    join(rv, bob, 0);
    join(rv, alice, 4000);
    expect(decoded(sends(join(rv, carol, 6000))[0]!).type).toBe('start');
    join(rv, carol, 61_000);
    expect(rv.roomCount).toBe(1); // a fresh room: the old one expired and carol made it anew
    expect(decoded(sends(join(rv, carol, 61_100))[0]!).type).toBe('waiting');
  });

  it('bounds the number of rooms', () => {
    const rv = server({ maxRooms: 2 });
    for (let i = 0; i < 2; i += 1) join(rv, alice, 0, {}, new Uint8Array(16).fill(i + 10));
    expect(decoded(sends(join(rv, alice, 0, {}, new Uint8Array(16).fill(99)))[0]!).type).toBe('full');
    expect(rv.roomCount).toBe(2);
  });

  it('rate-limits each source IP', () => {
    const rv = server({ rateLimit: { packetsPerSecond: 1, burst: 3 } });
    const hello = encodeRendezvousMessage({ type: 'hello', roomId: ROOM, peerId: alice.peerId });
    const outcomes = [0, 1, 2, 3].map(() => rv.handleDatagram(0, hello, alice.address)[0]!.type);
    expect(outcomes).toEqual(['send', 'send', 'send', 'ignore']);
  });

  it('ignores garbage and never throws, whatever the bytes', () => {
    const rv = server({ rateLimit: { packetsPerSecond: 1e9, burst: 1e9 } });
    expect(rv.handleDatagram(0, new Uint8Array([1, 2, 3]), alice.address)).toEqual([{ type: 'ignore', reason: 'not-rendezvous' }]);
    for (let i = 0; i < 2000; i += 1) {
      const bytes = new Uint8Array(randomBytes(RENDEZVOUS_MESSAGE_BYTES));
      new DataView(bytes.buffer).setUint32(0, RENDEZVOUS_MAGIC);
      if (i % 2 === 0) bytes[4] = 3; // a JOIN with random fields
      for (const action of rv.handleDatagram(i, bytes, alice.address)) {
        expect(action.type === 'ignore' || action.bytes.length === RENDEZVOUS_MESSAGE_BYTES).toBe(true);
      }
    }
    // Server-to-client messages are never answered.
    expect(rv.handleDatagram(0, encodeRendezvousMessage({ type: 'start', roomId: ROOM, peerId: alice.peerId }), alice.address)).toEqual([{ type: 'ignore', reason: 'unexpected' }]);
  });
});
