import { describe, expect, it } from '@jest/globals';
import { transportAddress } from '../../src/codec/transport-address.js';
import { PeerTimeoutError, RendezvousUnreachableError } from '../../src/errors.js';
import { runDatagramServer } from '../../src/platform/udp-server.js';
import { RendezvousClient } from '../../src/probe/rendezvous-client.js';
import { RendezvousServerProtocol } from '../../src/protocol/rendezvous-server.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { VirtualInternet } from '../helpers/virtual-internet.js';

const SERVER = transportAddress('192.0.2.1', 3480);

async function client(internet: VirtualInternet, clock: FakeClock, ip: string, peerByte: number, waitMs: number) {
  const socket = await internet.host(ip).bind('IPv4');
  const sent: number[] = [];
  const rv = new RendezvousClient((bytes, to) => {
    sent.push(clock.nowMs());
    socket.send(bytes, to);
  }, clock, { server: SERVER, roomId: new Uint8Array(16).fill(1), peerId: new Uint8Array(8).fill(peerByte), info: new TextEncoder().encode(`peer-${peerByte}`), waitMs });
  socket.onDatagram((bytes, from) => rv.receive(bytes, from));
  return { rv, sent, socket };
}

describe('RendezvousClient', () => {
  it('gives up with RendezvousUnreachableError when the server never answers, polling every 250 ms meanwhile', async () => {
    const clock = new FakeClock();
    const internet = new VirtualInternet(clock);
    const { rv, sent } = await client(internet, clock, '198.51.100.1', 1, 2000);
    const error = await clock.run(rv.meet().catch((e: unknown) => e));
    expect(error).toBeInstanceOf(RendezvousUnreachableError);
    expect((error as Error).message).toBe('no answer from the rendezvous server 192.0.2.1:3480 in 2 s');
    expect(clock.nowMs()).toBe(2000);
    expect(sent).toHaveLength(8);
  });

  it('gives up with PeerTimeoutError when the server answers but no peer comes', async () => {
    const clock = new FakeClock();
    const internet = new VirtualInternet(clock);
    const server = await runDatagramServer(new RendezvousServerProtocol({ address: SERVER.address, port: SERVER.port }), clock, undefined, internet.host(SERVER.address));
    const { rv } = await client(internet, clock, '198.51.100.1', 1, 3000);
    const error = await clock.run(rv.meet().catch((e: unknown) => e));
    expect(error).toBeInstanceOf(PeerTimeoutError);
    expect((error as Error).message).toBe('the peer did not come to the room within 3 s');
    await server.close();
  });

  it('meets a peer, with both starts at the same moment of the (shared fake) clock', async () => {
    const clock = new FakeClock();
    const internet = new VirtualInternet(clock, 25);
    const server = await runDatagramServer(new RendezvousServerProtocol({ address: SERVER.address, port: SERVER.port }), clock, undefined, internet.host(SERVER.address));
    const a = await client(internet, clock, '198.51.100.1', 1, 10_000);
    const b = await client(internet, clock, '203.0.113.5', 2, 10_000);
    const [ma, mb] = await clock.run(Promise.all([a.rv.meet(), new Promise<void>((r) => clock.setTimer(700, r)).then(() => b.rv.meet())]));
    expect(new TextDecoder().decode(ma.peerInfo)).toBe('peer-2');
    expect(new TextDecoder().decode(mb.peerInfo)).toBe('peer-1');
    expect(ma.peerObserved).toEqual(transportAddress('203.0.113.5', b.socket.local.port));
    expect(ma.startAtMs).toBe(mb.startAtMs);
    expect(ma.rttMs).toBe(50);
    await server.close();
  });
});
