import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { formatTransportAddress, transportAddress, type TransportAddress } from '../codec/transport-address.js';
import { predictsDirect, type P2pPrediction } from '../diagnose/p2p-technique.js';
import type { Behaviour, PortAllocation, Rfc3489Type } from '../diagnose/verdict.js';
import { InvalidArgumentError, NatscopeError } from '../errors.js';
import { nodeUdpNetwork } from '../platform/node-udp.js';
import { parseHostPort, resolveHost } from '../platform/resolve-host.js';
import { systemClock } from '../platform/system-clock.js';
import type { CandidateKind } from '../probe/connectivity-checks.js';
import { DEFAULT_BIRTHDAY, runP2pSession, type P2pSessionResult } from '../probe/p2p-session.js';
import type { Clock, UdpNetwork, UdpSocket } from '../probe/ports.js';
import type { P2pClassification } from '../protocol/p2p-info.js';
import { classify } from './classify.js';

/** The rendezvous server's default port. */
export const DEFAULT_RENDEZVOUS_PORT = 3480;

/** Options of `connect` (and `natscope p2p`). */
export interface ConnectOptions {
  /** "host[:port]" of a natscope rendezvous server (default port 3480). */
  readonly rendezvous: string;
  /** The room both peers name; the check key derives from it, so pick one others cannot guess. */
  readonly room: string;
  /** How long to wait for the peer; default 60 s. */
  readonly waitMs?: number;
  /** Allow the birthday spray (default true). */
  readonly birthday?: boolean;
  /** Most random-port probes of the birthday spray (default 1500). */
  readonly birthdayBudget?: number;
  /** Sockets the hard side opens for the birthday spray (default 256). */
  readonly birthdaySockets?: number;
  /** "host[:port]" of the RFC 5780 STUN server to classify against; default the rendezvous host on 3478. */
  readonly stun?: string;
  /** A classification to use instead of classifying (e.g. from `readAssumedP2pClassification`). */
  readonly assume?: P2pClassification;
  readonly family?: 4 | 6;
  /** How long checks run before giving up (birthday runs to its budget); default 10 s. */
  readonly checkTimeoutMs?: number;
  readonly onProgress?: (stage: string) => void;
  readonly network?: UdpNetwork;
  readonly clock?: Clock;
}

/** One side's NAT as the report shows it. */
export interface P2pSideReport {
  readonly mappedAddress: string | null;
  readonly classification: {
    readonly mapping: Behaviour;
    readonly filtering: Behaviour;
    readonly portAllocation: { readonly pattern: PortAllocation['pattern']; readonly delta?: number };
    readonly rfc3489: Rfc3489Type;
  } | null;
}

/** What `natscope p2p --json` prints (schema "natscope.p2p/1"). */
export interface P2pReport {
  readonly schema: 'natscope.p2p/1';
  readonly rendezvous: string;
  /** True when a pair was confirmed both ways (RFC 8445 §7.2.5 checks with the room's key). */
  readonly direct: boolean;
  readonly pair: { readonly local: { readonly address: string; readonly kind: CandidateKind }; readonly remote: { readonly address: string; readonly kind: CandidateKind } } | null;
  readonly technique: 'simultaneous-open' | 'port-prediction' | 'birthday' | null;
  /** From the agreed start to the first pair confirmed both ways. */
  readonly timeToDirectMs: number | null;
  /** What the two classifications said before any packet was sent. */
  readonly predicted: P2pPrediction;
  readonly predictionReason: string | null;
  /** Whether the outcome matched the prediction (null when it predicted nothing). */
  readonly predictionHeld: boolean | null;
  readonly birthdayProbability: number | null;
  readonly probesSent: number;
  readonly self: P2pSideReport;
  readonly peer: P2pSideReport;
  readonly path: { readonly rttMs: number | null; readonly lossPercent: number } | null;
  readonly durationMs: number;
  /** Why there is no direct path, in words (null when direct). */
  readonly reason: string | null;
  /** Why the run is inconclusive (the peer never came, the rendezvous server never answered). */
  readonly error: string | null;
}

/** `connect`'s answer: the report, and when direct, the punched socket (still open) and the peer's address on it. */
export interface P2pConnection extends P2pReport {
  readonly socket: UdpSocket | null;
  readonly peerAddress: TransportAddress | null;
}

/** The inconclusive outcomes: no peer to punch to. */
const INCONCLUSIVE = new Set(['ERR_PEER_TIMEOUT', 'ERR_RENDEZVOUS_UNREACHABLE', 'ERR_RENDEZVOUS_PROTOCOL']);

/**
 * Punches a direct UDP path to the peer that names the same room at the same rendezvous server, and resolves to
 * the report plus the open socket and the peer's address. Throws PeerTimeoutError or RendezvousUnreachableError
 * when there was nobody to punch to; `direct: false` is an answer, not an error.
 */
export async function connect(options: ConnectOptions): Promise<P2pConnection> {
  const { report, connection, error } = await runP2p(options);
  if (error !== undefined) throw error;
  return { ...report, socket: connection?.socket ?? null, peerAddress: connection?.peerAddress ?? null };
}

/** Like `connect`, but an inconclusive run is a report with `error` set (what the CLI prints). */
export async function runP2p(options: ConnectOptions): Promise<{ report: P2pReport; connection?: { socket: UdpSocket; peerAddress: TransportAddress }; error?: NatscopeError }> {
  if (options.room.length === 0) throw new InvalidArgumentError('the room name is empty');
  const clock = options.clock ?? systemClock;
  const network = options.network ?? nodeUdpNetwork;
  const started = clock.nowMs();
  const spec = parseHostPort(options.rendezvous, DEFAULT_RENDEZVOUS_PORT);
  const familyName = (options.family ?? (isIP(spec.host) === 6 ? 6 : 4)) === 6 ? 'IPv6' : 'IPv4';
  const rendezvous = (await resolveHost(spec, familyName))[0]!;
  const waitMs = options.waitMs ?? 60_000;
  if (!(waitMs > 0)) throw new InvalidArgumentError(`the wait must be a positive number of ms, not ${waitMs}`);

  let classification: P2pClassification | null;
  if (options.assume !== undefined) classification = options.assume;
  else {
    const stun = options.stun ?? `${isIP(spec.host) === 6 ? `[${rendezvous.address}]` : rendezvous.address}:3478`;
    options.onProgress?.(`classifying your NAT against ${stun}`);
    const report = await classify({ servers: [stun], family: familyName === 'IPv6' ? 6 : 4, allocationSockets: 8, network, clock, ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }) });
    classification = report.mapping === 'unknown' && report.filtering === 'unknown' && report.rfc3489 === 'udp-blocked' ? null : toP2pClassification(report);
  }

  const socket = await network.bind(familyName);
  const hostIp = (await network.routeSourceAddress?.(rendezvous)) ?? network.localAddresses().find((a) => isIP(a) === (familyName === 'IPv6' ? 6 : 4));
  const hostCandidates = hostIp === undefined ? [] : [transportAddress(hostIp, socket.local.port)];
  const blank = (error: NatscopeError): P2pReport => ({
    schema: 'natscope.p2p/1',
    rendezvous: formatTransportAddress(rendezvous),
    direct: false,
    pair: null,
    technique: null,
    timeToDirectMs: null,
    predicted: 'unknown',
    predictionReason: null,
    predictionHeld: null,
    birthdayProbability: null,
    probesSent: 0,
    self: { mappedAddress: null, classification: summary(classification) },
    peer: { mappedAddress: null, classification: null },
    path: null,
    durationMs: Math.round(clock.nowMs() - started),
    reason: null,
    error: error.message,
  });
  let result: P2pSessionResult;
  try {
    result = await runP2pSession({
      network,
      clock,
      socket,
      rendezvous,
      room: options.room,
      hostCandidates,
      classification,
      waitMs,
      birthday: {
        ...DEFAULT_BIRTHDAY,
        enabled: options.birthday ?? true,
        budget: options.birthdayBudget ?? DEFAULT_BIRTHDAY.budget,
        sockets: options.birthdaySockets ?? DEFAULT_BIRTHDAY.sockets,
      },
      ...(options.checkTimeoutMs === undefined ? {} : { checkTimeoutMs: options.checkTimeoutMs }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
  } catch (error) {
    socket.close();
    if (error instanceof NatscopeError && INCONCLUSIVE.has(error.code)) return { report: blank(error), error };
    throw error;
  }
  if (!result.direct) socket.close();
  const expected = predictsDirect(result.predicted);
  const report: P2pReport = {
    schema: 'natscope.p2p/1',
    rendezvous: formatTransportAddress(rendezvous),
    direct: result.direct,
    pair:
      result.pair === null
        ? null
        : {
            local: { address: formatTransportAddress(result.pair.local.address), kind: result.pair.local.kind },
            remote: { address: formatTransportAddress(result.pair.remote.address), kind: result.pair.remote.kind },
          },
    technique: result.technique,
    timeToDirectMs: result.timeToDirectMs === null ? null : Math.round(result.timeToDirectMs * 10) / 10,
    predicted: result.predicted,
    predictionReason: result.predictionReason,
    predictionHeld: expected === null ? null : expected === result.direct,
    birthdayProbability: result.birthdayProbability === null ? null : Math.round(result.birthdayProbability * 10_000) / 10_000,
    probesSent: result.probesSent,
    self: { mappedAddress: formatTransportAddress(result.selfMapped), classification: summary(classification) },
    peer: { mappedAddress: formatTransportAddress(result.peerMapped), classification: summary(result.peerClassification) },
    path: result.path,
    durationMs: Math.round(clock.nowMs() - started),
    reason: result.reason,
    error: null,
  };
  return result.socket === null || result.peerAddress === null ? { report } : { report, connection: { socket: result.socket, peerAddress: result.peerAddress } };
}

function summary(c: P2pClassification | null): P2pSideReport['classification'] {
  if (c === null) return null;
  return {
    mapping: c.mapping,
    filtering: c.filtering,
    portAllocation: { pattern: c.portAllocation.pattern, ...(c.portAllocation.delta === undefined ? {} : { delta: c.portAllocation.delta }) },
    rfc3489: c.rfc3489,
  };
}

function toP2pClassification(report: { mapping: Behaviour; filtering: Behaviour; rfc3489: Rfc3489Type; portAllocation?: { pattern: PortAllocation['pattern']; delta?: number } }): P2pClassification {
  const allocation = report.portAllocation ?? { pattern: 'unknown' as const };
  return {
    mapping: report.mapping,
    filtering: report.filtering,
    rfc3489: report.rfc3489,
    portAllocation: { pattern: allocation.pattern, ...(allocation.delta === undefined ? {} : { delta: allocation.delta }) },
  };
}

/** Reads a `classify --json` report (or a p2p report's `self.classification`) to assume instead of classifying. */
export function readAssumedP2pClassification(path: string): P2pClassification {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InvalidArgumentError(`--assume ${path}: cannot read a classify --json report (${(error as Error).message})`);
  }
  const report = parsed as Record<string, unknown>;
  const behaviours = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent', 'unknown'];
  if (!behaviours.includes(report.mapping as string) || !behaviours.includes(report.filtering as string) || typeof report.rfc3489 !== 'string') {
    throw new InvalidArgumentError(`--assume ${path}: not a classify --json report (mapping, filtering and rfc3489 missing or not RFC 4787 words)`);
  }
  const allocation = report.portAllocation as { pattern?: unknown; delta?: unknown } | undefined;
  const patterns = ['preserved', 'sequential', 'random', 'unknown'];
  const portAllocation =
    allocation !== undefined && patterns.includes(allocation.pattern as string)
      ? { pattern: allocation.pattern as PortAllocation['pattern'], ...(Number.isInteger(allocation.delta) ? { delta: allocation.delta as number } : {}) }
      : { pattern: 'unknown' as const };
  return toP2pClassification({ mapping: report.mapping as Behaviour, filtering: report.filtering as Behaviour, rfc3489: report.rfc3489 as Rfc3489Type, portAllocation });
}
