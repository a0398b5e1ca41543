import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { MessageType } from '../../src/codec/constants.js';
import { decodeStunMessage, looksLikeStun, verifyMessageIntegrity } from '../../src/codec/decode.js';
import { createTransactionId, encodeBindingRequest, encodeBindingSuccessResponse } from '../../src/codec/encode.js';
import { transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import { DEFAULT_RANDOM_PORT_RANGE } from '../../src/diagnose/birthday.js';
import { runDatagramServer } from '../../src/platform/udp-server.js';
import { runP2pSession, type P2pSessionResult } from '../../src/probe/p2p-session.js';
import { RendezvousClient } from '../../src/probe/rendezvous-client.js';
import { decodeP2pInfo, deriveCheckKey, encodeP2pInfo, roomIdOf, type P2pClassification } from '../../src/protocol/p2p-info.js';
import { RendezvousServerProtocol } from '../../src/protocol/rendezvous-server.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { VirtualInternet, type InternetNatConfig } from '../helpers/virtual-internet.js';

const SERVER_IP = '192.0.2.1';
const RENDEZVOUS = transportAddress(SERVER_IP, 3480);
const ROOM = 'garden-42';

type Kind = 'port-restricted-cone' | 'full-cone' | 'symmetric-random' | 'symmetric-sequential';
const NAT_OF: Record<Kind, Omit<InternetNatConfig, 'publicIp' | 'insideIps' | 'loss'>> = {
  'full-cone': { mapping: 'endpoint-independent', filtering: 'endpoint-independent', portAllocation: 'preserve' },
  'port-restricted-cone': { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', portAllocation: 'preserve' },
  'symmetric-random': { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', portAllocation: 'random' },
  'symmetric-sequential': { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', portAllocation: 'sequential', stride: 256 },
};
const CLASSIFICATION_OF: Record<Kind, P2pClassification> = {
  'full-cone': { mapping: 'endpoint-independent', filtering: 'endpoint-independent', portAllocation: { pattern: 'preserved' }, rfc3489: 'full-cone' },
  'port-restricted-cone': { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', portAllocation: { pattern: 'preserved' }, rfc3489: 'port-restricted-cone' },
  'symmetric-random': { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', portAllocation: { pattern: 'random' }, rfc3489: 'symmetric' },
  'symmetric-sequential': { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', portAllocation: { pattern: 'sequential', delta: 256 }, rfc3489: 'symmetric' },
};

interface Pair {
  readonly a: P2pSessionResult;
  readonly b: P2pSessionResult;
  readonly internet: VirtualInternet;
}

interface PairOptions {
  readonly loss?: number;
  readonly birthday?: boolean;
  readonly seed?: number;
  readonly birthdaySettings?: { readonly budget: number; readonly sockets: number; readonly probesPerSecond: number };
  /** Ports side B's NAT picks from when it allocates at random. */
  readonly randomPortsB?: { readonly low: number; readonly high: number };
  /** Side A's random numbers (its birthday spray picks ports with them); seeded from `seed` when absent. */
  readonly randomA?: () => number;
}

async function punchPair(kindA: Kind, kindB: Kind, options: PairOptions = {}): Promise<Pair> {
  const clock = new FakeClock();
  const seed = options.seed ?? 7;
  const internet = new VirtualInternet(clock, 10, seed)
    .addNat({ ...NAT_OF[kindA], publicIp: '203.0.113.10', insideIps: ['10.0.0.2'], loss: options.loss ?? 0, firstPort: 30000 })
    .addNat({ ...NAT_OF[kindB], publicIp: '198.51.100.20', insideIps: ['10.1.0.2'], loss: options.loss ?? 0, firstPort: 31000, randomPorts: options.randomPortsB });
  const server = await runDatagramServer(new RendezvousServerProtocol({ address: SERVER_IP, port: 3480 }), clock, undefined, internet.host(SERVER_IP));
  // Each side's randomness is seeded too (never Math.random): the spray's port picks decide whether a birthday
  // pair meets within its budget, so an unseeded test would miss now and then, as the spray honestly can. Never
  // the internet's own seed: the spray would then replay the hard NAT's port choices and find them at once.
  const side = async (ip: string, kind: Kind, delayMs: number, random: () => number): Promise<P2pSessionResult> => {
    const network = internet.host(ip);
    const socket = await network.bind('IPv4');
    await new Promise<void>((resolve) => clock.setTimer(delayMs, resolve));
    return runP2pSession({
      network,
      clock,
      socket,
      rendezvous: RENDEZVOUS,
      room: ROOM,
      hostCandidates: [transportAddress(ip, socket.local.port)],
      classification: CLASSIFICATION_OF[kind],
      waitMs: 20_000,
      random,
      birthday: { enabled: options.birthday ?? true, ...(options.birthdaySettings ?? { budget: 1500, sockets: 256, probesPerSecond: 100 }) },
    });
  };
  try {
    const [a, b] = await clock.run(Promise.all([side('10.0.0.2', kindA, 0, options.randomA ?? seededRandom(seed + 1)), side('10.1.0.2', kindB, 1234, seededRandom(seed + 2))]));
    return { a, b, internet };
  } finally {
    await server.close();
  }
}

describe('runP2pSession over two simulated NATs', () => {
  it('punches port-restricted cone to port-restricted cone by simultaneous open within 3 RTTs of the start', async () => {
    const { a, b } = await punchPair('port-restricted-cone', 'port-restricted-cone');
    for (const side of [a, b]) {
      expect(side).toMatchObject({ direct: true, predicted: 'direct', technique: 'simultaneous-open' });
      expect(side.pair?.remote.kind).toBe('server-reflexive');
      // One-way latency 10 ms: an RTT of 20 ms between the peers.
      expect(side.timeToDirectMs).toBeLessThanOrEqual(3 * 20 + 50);
      expect(side.path).toMatchObject({ lossPercent: 0 });
      expect(side.path?.rttMs).toBeCloseTo(20, 0);
    }
    expect(a.pair?.remote.address).toEqual(b.pair?.local.address);
    expect(a.role).not.toBe(b.role);
  });

  it('predicts the next port of a symmetric NAT that allocates 256 apart, against a port-restricted cone', async () => {
    const { a, b } = await punchPair('port-restricted-cone', 'symmetric-sequential');
    expect(a).toMatchObject({ direct: true, predicted: 'port-prediction', technique: 'port-prediction' });
    expect(a.pair?.remote.kind).toBe('predicted');
    expect(b).toMatchObject({ direct: true, technique: 'port-prediction' });
    expect(b.pair?.local.kind).toBe('predicted');
  });

  it('names one technique on both sides when a full cone meets a sequential symmetric NAT (no prediction needed)', async () => {
    // The sequential side's new mapping may happen to be one of its own predicted ports; the full cone never
    // checked those, so the path is simultaneous open with a peer-reflexive candidate on both sides.
    const { a, b } = await punchPair('full-cone', 'symmetric-sequential');
    expect(a).toMatchObject({ direct: true, predicted: 'direct', technique: 'simultaneous-open' });
    expect(b).toMatchObject({ direct: true, predicted: 'direct', technique: 'simultaneous-open' });
    expect(b.pair?.local.kind).not.toBe('predicted');
  });

  it('meets two sequential symmetric NATs in lockstep', async () => {
    const { a, b } = await punchPair('symmetric-sequential', 'symmetric-sequential');
    expect(a).toMatchObject({ direct: true, predicted: 'port-prediction', technique: 'port-prediction' });
    expect(b).toMatchObject({ direct: true, technique: 'port-prediction' });
  });

  it('finds a random-port symmetric NAT behind a port-restricted cone by the birthday spray, saying its chance first', async () => {
    const { a, b } = await punchPair('port-restricted-cone', 'symmetric-random');
    expect(a).toMatchObject({ direct: true, predicted: 'birthday', technique: 'birthday' });
    expect(b).toMatchObject({ direct: true, predicted: 'birthday', technique: 'birthday' });
    expect(a.birthdayProbability).toBeGreaterThan(0.99);
    expect(b.pair?.local.kind).toBe('birthday');
    // The spray stops at the first crossing, well inside its budget and paced at 100 probes/s.
    expect(a.probesSent).toBeLessThan(1500 + 300);
  });

  it('says "birthday" on both sides when the spray finds the mapping of the hard side\'s main socket', async () => {
    // One socket on the hard side: its main socket's mapping toward the easy side is the only one the spray can
    // find. The hard NAT picks its ports from 40000-40255 and the easy side's spray walks exactly those, so the
    // spray finds it for sure. The main socket also sends the plain rounds, so without care its side would call
    // this path "simultaneous-open" while the peer says "birthday" (as a CI run of the lab matrix once did).
    const ports = { low: 40000, high: 40255 };
    let next = ports.low;
    const walkPorts = (): number => {
      const port = next;
      next = next === ports.high ? ports.low : next + 1;
      return (port - DEFAULT_RANDOM_PORT_RANGE.low + 0.5) / (DEFAULT_RANDOM_PORT_RANGE.high - DEFAULT_RANDOM_PORT_RANGE.low + 1);
    };
    const { a, b } = await punchPair('port-restricted-cone', 'symmetric-random', {
      birthdaySettings: { budget: 256, sockets: 1, probesPerSecond: 100 },
      randomPortsB: ports,
      randomA: walkPorts,
    });
    expect(a).toMatchObject({ direct: true, predicted: 'birthday', technique: 'birthday' });
    expect(b).toMatchObject({ direct: true, predicted: 'birthday', technique: 'birthday' });
    expect(a.pair?.remote.kind).toBe('birthday');
    expect(b.pair?.local).toEqual({ address: a.pair?.remote.address, kind: 'birthday' });
    expect(b.pair?.local.address).not.toEqual(b.selfMapped);
  });

  it('does not spray when birthday is disabled, and says a relay is needed (the prediction holds)', async () => {
    const { a, b } = await punchPair('port-restricted-cone', 'symmetric-random', { birthday: false });
    for (const side of [a, b]) {
      expect(side).toMatchObject({ direct: false, predicted: 'relay-needed', pair: null, technique: null });
      expect(side.reason).toMatch(/needs a relay/);
    }
    expect(a.probesSent).toBeLessThan(200);
  });

  it('says a relay is needed for two random-port symmetric NATs, and finds no path', async () => {
    const { a, b } = await punchPair('symmetric-random', 'symmetric-random');
    for (const side of [a, b]) expect(side).toMatchObject({ direct: false, predicted: 'relay-needed' });
    expect(a.reason).toMatch(/new random port for every destination/);
  });

  it.each([1, 2, 3, 4, 5])('still finds the direct path with 5%% loss each way through both NATs (seed %i)', async (seed) => {
    const { a, b, internet } = await punchPair('port-restricted-cone', 'symmetric-sequential', { loss: 0.05, seed });
    expect(a.direct).toBe(true);
    expect(b.direct).toBe(true);
    expect((internet.drops.get('loss-out') ?? 0) + (internet.drops.get('loss-in') ?? 0)).toBeGreaterThan(0);
  });

  it('finds birthday pairs under 5% loss too', async () => {
    const { a, b } = await punchPair('port-restricted-cone', 'symmetric-random', { loss: 0.05, seed: 11 });
    expect(a.direct && b.direct).toBe(true);
  });
});

describe('direct: true needs a check confirmed both ways', () => {
  /** A peer that joins the room and then misbehaves in one of two ways. */
  async function againstFakePeer(behaviour: 'answers-but-never-checks' | 'wrong-key'): Promise<P2pSessionResult> {
    const clock = new FakeClock();
    const internet = new VirtualInternet(clock, 10).addNat({ ...NAT_OF['full-cone'], publicIp: '203.0.113.10', insideIps: ['10.0.0.2'] });
    const server = await runDatagramServer(new RendezvousServerProtocol({ address: SERVER_IP, port: 3480 }), clock, undefined, internet.host(SERVER_IP));
    const fakeNetwork = internet.host('198.51.100.99');
    const fake = await fakeNetwork.bind('IPv4');
    const peerId = new Uint8Array(randomBytes(8));
    const ufrag = Buffer.from(peerId).toString('hex');
    let key: Uint8Array = new Uint8Array(32);
    let realPeer: TransportAddress | undefined;
    const rendezvous = new RendezvousClient((bytes, to) => fake.send(bytes, to), clock, {
      server: RENDEZVOUS,
      roomId: roomIdOf(ROOM),
      peerId,
      info: encodeP2pInfo({ ufrag, hosts: [], localPort: fake.local.port, classification: CLASSIFICATION_OF['full-cone'], birthday: { enabled: false, budget: 0, sockets: 0 } }),
      waitMs: 10_000,
    });
    fake.onDatagram((bytes, from) => {
      if (rendezvous.receive(bytes, from) || !looksLikeStun(bytes)) return;
      const request = decodeStunMessage(bytes);
      if (request.messageType !== MessageType.BINDING_REQUEST) return;
      if (behaviour === 'answers-but-never-checks' && verifyMessageIntegrity(bytes, key)) {
        fake.send(encodeBindingSuccessResponse({ transactionId: request.transactionId, xorMappedAddress: from, integrityKey: key }), from);
      }
    });
    void rendezvous.meet().then((meeting) => {
      const peer = decodeP2pInfo(meeting.peerInfo)!;
      realPeer = meeting.peerObserved;
      key = behaviour === 'wrong-key' ? deriveCheckKey('another room', ufrag, peer.ufrag) : deriveCheckKey(ROOM, ufrag, peer.ufrag);
      if (behaviour !== 'wrong-key') return;
      // A spoofer without the room's key: requests and "responses" signed with the wrong key, and unsigned ones.
      const spray = (n: number): void => {
        if (n === 0 || realPeer === undefined) return;
        fake.send(encodeBindingRequest({ transactionId: createTransactionId(), username: `${peer.ufrag}:${ufrag}`, integrityKey: key }), realPeer);
        fake.send(encodeBindingSuccessResponse({ transactionId: createTransactionId(), xorMappedAddress: realPeer, integrityKey: key }), realPeer);
        fake.send(encodeBindingRequest({ transactionId: createTransactionId() }), realPeer);
        clock.setTimer(50, () => spray(n - 1));
      };
      spray(100);
    });
    const network = internet.host('10.0.0.2');
    const socket = await network.bind('IPv4');
    try {
      return await clock.run(
        runP2pSession({ network, clock, socket, rendezvous: RENDEZVOUS, room: ROOM, hostCandidates: [], classification: CLASSIFICATION_OF['full-cone'], waitMs: 10_000, checkTimeoutMs: 3000 }),
      );
    } finally {
      await server.close();
    }
  }

  it('is false when the peer answers checks but never sends its own', async () => {
    const result = await againstFakePeer('answers-but-never-checks');
    expect(result.direct).toBe(false);
    expect(result.pair).toBeNull();
  });

  it('is false when every check and answer comes without the room key', async () => {
    const result = await againstFakePeer('wrong-key');
    expect(result.direct).toBe(false);
    expect(result.reason).toMatch(/no check was confirmed both ways/);
  });
});
