import { randomBytes } from 'node:crypto';
import { sameIp, sameTransportAddress, transportAddress, type TransportAddress } from '../codec/transport-address.js';
import { birthdayProbability, DEFAULT_RANDOM_PORT_RANGE } from '../diagnose/birthday.js';
import { decideP2pTechnique, type P2pPrediction, type P2pSideNat } from '../diagnose/p2p-technique.js';
import { DEFAULT_PREDICTION_WINDOW, predictNextPorts } from '../diagnose/port-prediction.js';
import { RendezvousProtocolError } from '../errors.js';
import { decodeP2pInfo, deriveCheckKey, encodeP2pInfo, roomIdOf, type P2pClassification, type P2pPeerInfo } from '../protocol/p2p-info.js';
import { ConnectivityChecker, type CandidateKind, type ConfirmedPair } from './connectivity-checks.js';
import type { Clock, UdpNetwork, UdpSocket } from './ports.js';
import { RendezvousClient } from './rendezvous-client.js';

/** Gaps between the first plain check rounds after the agreed start (then 100 ms, and 200 ms after 2 s). */
const EARLY_ROUND_GAPS_MS = [10, 10, 20, 30, 30];

/** The birthday spray's settings. */
export interface BirthdaySettings {
  readonly enabled: boolean;
  /** Most random-port probes the easy side sends. */
  readonly budget: number;
  /** Sockets the hard side opens toward the easy side. */
  readonly sockets: number;
  readonly probesPerSecond: number;
}

/** Defaults: 256 sockets, 100 probes/s, 1500 probes (a 99.7% chance against 1024-65535; about 1.8 s to the median hit). */
export const DEFAULT_BIRTHDAY: BirthdaySettings = { enabled: true, budget: 1500, sockets: 256, probesPerSecond: 100 };

/** Options of one p2p session over an open socket. */
export interface P2pSessionOptions {
  readonly network: UdpNetwork;
  readonly clock: Clock;
  /** The punching socket; the rendezvous goes over it too, so the server sees its mapping. */
  readonly socket: UdpSocket;
  readonly rendezvous: TransportAddress;
  readonly room: string;
  /** Host candidates of the socket (RFC 8445 §5.1.1.1). */
  readonly hostCandidates: readonly TransportAddress[];
  readonly classification: P2pClassification | null;
  /** How long to wait for the peer. */
  readonly waitMs: number;
  readonly birthday?: BirthdaySettings;
  /** How long checks run before giving up (not for birthday, which runs to its budget). */
  readonly checkTimeoutMs?: number;
  readonly predictionWindow?: number;
  /** Checks of the RTT/loss exchange once the path is confirmed. */
  readonly measureChecks?: number;
  /** How long to keep answering the peer's checks at the end. */
  readonly lingerMs?: number;
  readonly random?: () => number;
  readonly onProgress?: (stage: string) => void;
}

/** One end of the working pair. */
export interface PairEnd {
  readonly address: TransportAddress;
  readonly kind: CandidateKind;
}

/** What one side saw of a session. */
export interface P2pSessionResult {
  readonly direct: boolean;
  readonly pair: { readonly local: PairEnd; readonly remote: PairEnd } | null;
  readonly technique: 'simultaneous-open' | 'port-prediction' | 'birthday' | null;
  readonly timeToDirectMs: number | null;
  readonly predicted: P2pPrediction;
  readonly predictionReason: string;
  readonly reason: string | null;
  readonly probesSent: number;
  readonly selfMapped: TransportAddress;
  readonly peerMapped: TransportAddress;
  readonly peerClassification: P2pClassification | null;
  readonly path: { readonly rttMs: number | null; readonly lossPercent: number } | null;
  /** The chance the birthday spray had, said before it started. */
  readonly birthdayProbability: number | null;
  readonly role: 'a' | 'b';
  /** The punched socket (still open) and the peer's address on it, when direct. */
  readonly socket: UdpSocket | null;
  readonly peerAddress: TransportAddress | null;
}

const UNKNOWN_NAT: P2pSideNat = { mapping: 'unknown', filtering: 'unknown', portAllocation: { pattern: 'unknown' } };
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(Math.max(0, ms), resolve));
}

/**
 * One side of a p2p punch: meets the peer in the room, decides the technique from both classifications,
 * starts at the agreed moment, checks candidates (and predicted ports, or the birthday spray), and once a pair
 * is confirmed both ways measures it with a short exchange. Throws PeerTimeoutError/RendezvousUnreachableError
 * when there was no peer to punch to; a punch that fails is a result (direct: false), not an error.
 */
export async function runP2pSession(options: P2pSessionOptions): Promise<P2pSessionResult> {
  const { clock, socket } = options;
  const birthday = options.birthday ?? DEFAULT_BIRTHDAY;
  const window = options.predictionWindow ?? DEFAULT_PREDICTION_WINDOW;
  const random = options.random ?? Math.random;
  const peerId = new Uint8Array(randomBytes(8));
  const ufrag = hex(peerId);
  const info: P2pPeerInfo = {
    ufrag,
    hosts: options.hostCandidates,
    localPort: socket.local.port,
    classification: options.classification,
    birthday: { enabled: birthday.enabled, budget: birthday.budget, sockets: birthday.sockets },
  };
  const rendezvous = new RendezvousClient((bytes, to) => socket.send(bytes, to), clock, {
    server: options.rendezvous,
    roomId: roomIdOf(options.room),
    peerId,
    info: encodeP2pInfo(info),
    waitMs: options.waitMs,
  });
  let checker: ConnectivityChecker | undefined;
  socket.onDatagram((bytes, from) => {
    if (rendezvous.receive(bytes, from)) return;
    checker?.receive(socket, bytes, from);
  });
  const extraSockets: UdpSocket[] = [];
  let scheduleStopped = false;
  const cancels: Array<() => void> = [];
  try {
    options.onProgress?.('waiting for the peer in the room');
    const meeting = await rendezvous.meet();
    const peer = decodeP2pInfo(meeting.peerInfo);
    if (peer === undefined) throw new RendezvousProtocolError('the peer sent info natscope cannot read (another program, or another version, in the room?)');
    const credentials = { localUfrag: ufrag, remoteUfrag: peer.ufrag, key: deriveCheckKey(options.room, ufrag, peer.ufrag) };
    checker = new ConnectivityChecker(clock, credentials);
    const checks = checker;

    const sprayAllowed = birthday.enabled && peer.birthday.enabled;
    const budget = Math.min(birthday.budget, peer.birthday.budget);
    const selfNat = options.classification ?? UNKNOWN_NAT;
    const peerNat = peer.classification ?? UNKNOWN_NAT;
    const decision = decideP2pTechnique(selfNat, peerNat, { birthday: sprayAllowed });
    const role = decision.role;

    // Remote candidates (RFC 8445 §5.1): the server-reflexive address the rendezvous server saw, host
    // addresses only behind the same public IP, and the predicted next ports when the plan says so.
    const peerIsHost = peer.hosts.some((h) => sameTransportAddress(h, meeting.peerObserved));
    const remotes: Array<{ address: TransportAddress; kind: CandidateKind }> = [];
    const addRemote = (address: TransportAddress, kind: CandidateKind): void => {
      if (!remotes.some((r) => sameTransportAddress(r.address, address))) remotes.push({ address, kind });
    };
    if (role.checkPeerCandidates) {
      addRemote(meeting.peerObserved, peerIsHost ? 'host' : 'server-reflexive');
      if (sameIp(meeting.peerObserved.address, meeting.observed.address)) for (const h of peer.hosts) addRemote(h, 'host');
    }
    if (role.checkPeerPredicted) {
      for (const port of predictNextPorts(peerNat.portAllocation, meeting.peerObserved.port, peer.localPort, window)) {
        addRemote(transportAddress(meeting.peerObserved.address, port), 'predicted');
      }
    }
    const ownPredicted = predictNextPorts(selfNat.portAllocation, meeting.observed.port, socket.local.port, window);
    // The peer runs the same decision from its side: only when it checks our predicted ports can our mapping be
    // "predicted" (a peer whose filter lets any port in reaches our new mapping by simultaneous open instead).
    const peerChecksOurPredicted = decideP2pTechnique(peerNat, selfNat, { birthday: sprayAllowed }).role.checkPeerPredicted;

    // Birthday (one hard side, one easy): the hard side opens many mappings toward the easy side's address,
    // the easy side probes random ports of the hard side's IP until one crosses.
    let probability: number | null = null;
    if (role.birthday !== null) {
      const hardSockets = role.birthday === 'open-sockets' ? birthday.sockets : peer.birthday.sockets;
      const range = DEFAULT_RANDOM_PORT_RANGE.high - DEFAULT_RANDOM_PORT_RANGE.low + 1;
      probability = birthdayProbability(hardSockets, range, budget);
      options.onProgress?.(`birthday: ${hardSockets} sockets against ${budget} probes: a ${(probability * 100).toFixed(1)}% chance`);
    }
    if (role.birthday === 'open-sockets') {
      for (let i = 1; i < birthday.sockets; i += 1) {
        const extra = await options.network.bind(socket.local.family);
        extra.onDatagram((bytes, from) => checks.receive(extra, bytes, from));
        extraSockets.push(extra);
      }
    }

    options.onProgress?.('punching');
    await sleep(clock, meeting.startAtMs - clock.nowMs());
    const startedAtMs = clock.nowMs();
    const confirmed = new Promise<ConfirmedPair>((resolve) => checks.onConfirmed(resolve));

    // The plain rounds: every candidate each round. The first rounds come quickly (10, 20, 40, 70 and 100 ms after
    // the start): the two first packets cross at about the same moment, and when the peer's arrives a moment before
    // ours has opened our NAT's filter for it (an address-dependent filter meeting a hard mapping), its next round
    // gets in; waiting 100 ms for it would miss the target of 3 RTTs plus 50 ms. Then 100 ms apart for 2 s, then 200.
    let roundNumber = 0;
    const round = (): void => {
      if (scheduleStopped) return;
      for (const r of remotes) checks.check(socket, r.address, r.kind);
      const elapsed = clock.nowMs() - startedAtMs;
      const gapMs = EARLY_ROUND_GAPS_MS[roundNumber] ?? (elapsed < 2000 ? 100 : 200);
      roundNumber += 1;
      cancels.push(clock.setTimer(gapMs, round));
    };
    round();
    if (role.birthday === 'open-sockets') {
      const all = [socket, ...extraSockets];
      const burst = (from: number): void => {
        if (scheduleStopped) return;
        for (const s of all.slice(from, from + 64)) checks.check(s, meeting.peerObserved, 'server-reflexive');
        // Batches of 64 every 20 ms, the whole set again every 5 s to keep the mappings.
        cancels.push(clock.setTimer(from + 64 < all.length ? 20 : 5000, () => burst(from + 64 < all.length ? from + 64 : 0)));
      };
      burst(0);
    }
    let probesSent = 0;
    if (role.birthday === 'probe-random-ports') {
      const used = new Set<number>();
      const span = DEFAULT_RANDOM_PORT_RANGE.high - DEFAULT_RANDOM_PORT_RANGE.low + 1;
      const gapMs = 1000 / birthday.probesPerSecond;
      const probe = (): void => {
        if (scheduleStopped || probesSent >= budget || used.size >= span) return;
        let port: number;
        do port = DEFAULT_RANDOM_PORT_RANGE.low + Math.floor(random() * span);
        while (used.has(port));
        used.add(port);
        probesSent += 1;
        checks.check(socket, transportAddress(meeting.peerObserved.address, port), 'birthday');
        cancels.push(clock.setTimer(gapMs, probe));
      };
      probe();
    }
    const limitMs =
      role.birthday !== null
        ? (budget / birthday.probesPerSecond) * 1000 + 3000
        : decision.predicted === 'relay-needed'
          ? Math.min(5000, options.checkTimeoutMs ?? 10_000)
          : (options.checkTimeoutMs ?? 10_000);
    const pair = await Promise.race([confirmed, new Promise<undefined>((resolve) => cancels.push(clock.setTimer(limitMs, () => resolve(undefined))))]);
    scheduleStopped = true;
    for (const cancel of cancels.splice(0)) cancel();
    const probesAtEnd = checks.checksSent;

    const base = {
      predicted: decision.predicted,
      predictionReason: decision.reason,
      probesSent: probesAtEnd,
      selfMapped: meeting.observed,
      peerMapped: meeting.peerObserved,
      peerClassification: peer.classification,
      birthdayProbability: probability,
      role: meeting.role,
    };
    if (pair === undefined) {
      for (const s of extraSockets) s.close();
      const waited = (limitMs / 1000).toFixed(1);
      const reason =
        decision.predicted === 'relay-needed'
          ? decision.reason
          : role.birthday !== null
            ? `no probe crossed within the budget of ${budget} probes (it had a ${((probability ?? 0) * 100).toFixed(1)}% chance): ${decision.reason}`
            : `no check was confirmed both ways within ${waited} s, although ${decision.reason}`;
      await sleep(clock, options.lingerMs ?? 1500);
      socket.onDatagram(() => {});
      return { ...base, direct: false, pair: null, technique: null, timeToDirectMs: null, reason, path: null, socket: null, peerAddress: null };
    }

    for (const s of extraSockets) if (s !== pair.socket) s.close();
    options.onProgress?.('direct path confirmed; measuring it');
    const path = await measurePath(clock, checks, pair, options.measureChecks ?? 20);
    await sleep(clock, options.lingerMs ?? 1500);
    // The main socket is one of the birthday set too (the bursts go out from it as well): when the peer's random
    // probe finds its new mapping, that mapping was found by the spray, and both sides must say "birthday".
    const localKind: CandidateKind =
      pair.socket !== socket
        ? 'birthday'
        : options.hostCandidates.some((h) => sameTransportAddress(h, pair.localMapped))
          ? 'host'
          : sameTransportAddress(pair.localMapped, meeting.observed)
            ? 'server-reflexive'
            : peerChecksOurPredicted && sameIp(pair.localMapped.address, meeting.observed.address) && ownPredicted.includes(pair.localMapped.port) && selfNat.portAllocation.pattern === 'sequential'
              ? 'predicted'
              : role.birthday === 'open-sockets'
                ? 'birthday'
                : 'peer-reflexive';
    const kinds = [localKind, pair.remoteKind];
    const technique = kinds.includes('birthday') ? 'birthday' : kinds.includes('predicted') ? 'port-prediction' : 'simultaneous-open';
    pair.socket.onDatagram(() => {});
    if (pair.socket !== socket) socket.close();
    return {
      ...base,
      direct: true,
      pair: { local: { address: pair.localMapped, kind: localKind }, remote: { address: pair.remote, kind: pair.remoteKind } },
      technique,
      timeToDirectMs: Math.max(0, pair.confirmedAtMs - startedAtMs),
      reason: null,
      path,
      socket: pair.socket,
      peerAddress: pair.remote,
    };
  } catch (error) {
    for (const s of extraSockets) s.close();
    throw error;
  } finally {
    scheduleStopped = true;
    for (const cancel of cancels) cancel();
    rendezvous.stop();
  }
}

/** A short exchange of checks on the confirmed pair: median RTT and the share lost (RFC 8445 §7.2 checks as probes). */
async function measurePath(clock: Clock, checks: ConnectivityChecker, pair: ConfirmedPair, count: number): Promise<{ rttMs: number | null; lossPercent: number }> {
  const rtts: number[] = [];
  for (let i = 0; i < count; i += 1) {
    checks.check(pair.socket, pair.remote, pair.remoteKind, (rtt) => rtts.push(rtt));
    await sleep(clock, 20);
  }
  await sleep(clock, 500);
  const sorted = [...rtts].sort((a, b) => a - b);
  const median = sorted.length === 0 ? null : (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.floor(sorted.length / 2)]!) / 2;
  const answered = Math.min(rtts.length, count);
  return { rttMs: median === null ? null : Math.round(median * 100) / 100, lossPercent: Math.round(((count - answered) / count) * 1000) / 10 };
}
