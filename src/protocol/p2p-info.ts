import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { transportAddress, type TransportAddress } from '../codec/transport-address.js';
import type { P2pSideNat } from '../diagnose/p2p-technique.js';
import type { Behaviour, PortAllocation, Rfc3489Type } from '../diagnose/verdict.js';
import { RENDEZVOUS_MAX_INFO_BYTES } from './rendezvous-messages.js';

/** One side's classification as p2p exchanges it. */
export interface P2pClassification extends P2pSideNat {
  readonly rfc3489: Rfc3489Type;
}

/** What a peer tells the other through the room (JSON in the rendezvous message's info). */
export interface P2pPeerInfo {
  /** The ICE-style username fragment: the peer id in hex (RFC 8445 §5.3). */
  readonly ufrag: string;
  /** Host candidates (RFC 8445 §5.1.1.1). */
  readonly hosts: readonly TransportAddress[];
  /** The local port of the punching socket (a port-preserving NAT keeps it). */
  readonly localPort: number;
  readonly classification: P2pClassification | null;
  /** Whether this side allows the birthday spray, its probe budget, and how many sockets it opens as the hard side. */
  readonly birthday: { readonly enabled: boolean; readonly budget: number; readonly sockets: number };
}

const BEHAVIOURS: readonly Behaviour[] = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent', 'unknown'];
const PATTERNS: readonly PortAllocation['pattern'][] = ['preserved', 'sequential', 'random', 'unknown'];
const RFC3489: readonly Rfc3489Type[] = ['open-internet', 'full-cone', 'restricted-cone', 'port-restricted-cone', 'symmetric', 'symmetric-firewall', 'udp-blocked', 'unknown'];
const MAX_HOSTS = 8;

/** The room's id on the wire: a hash, so the server never learns the name the check key derives from. */
export function roomIdOf(room: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update('natscope.p2p/1 room\0').update(room, 'utf8').digest().subarray(0, 16));
}

/**
 * The short-term credential key of the connectivity checks (RFC 8445 §7.2.2, RFC 8489 §9.1): derived from the
 * room name and both ufrags, so only the two peers that know the room can make a check the other accepts.
 */
export function deriveCheckKey(room: string, ufragA: string, ufragB: string): Uint8Array {
  const [first, second] = [ufragA, ufragB].sort();
  return new Uint8Array(createHash('sha256').update('natscope.p2p/1 key\0').update(room, 'utf8').update(`\0${first}\0${second}`).digest());
}

/** Encodes the info as JSON bytes. */
export function encodeP2pInfo(info: P2pPeerInfo): Uint8Array {
  const json = JSON.stringify({
    ufrag: info.ufrag,
    hosts: info.hosts.slice(0, MAX_HOSTS).map((h) => [h.address, h.port]),
    localPort: info.localPort,
    classification: info.classification,
    birthday: info.birthday,
  });
  const bytes = new TextEncoder().encode(json);
  if (bytes.length > RENDEZVOUS_MAX_INFO_BYTES) throw new RangeError(`p2p info is ${bytes.length} bytes, at most ${RENDEZVOUS_MAX_INFO_BYTES} fit`);
  return bytes;
}

/** Decodes and checks a peer's info; undefined for anything that is not exactly what a natscope peer sends. */
export function decodeP2pInfo(bytes: Uint8Array): P2pPeerInfo | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.ufrag !== 'string' || !/^[0-9a-f]{16}$/.test(v.ufrag)) return undefined;
  if (!isPort(v.localPort)) return undefined;
  if (!Array.isArray(v.hosts) || v.hosts.length > MAX_HOSTS) return undefined;
  const hosts: TransportAddress[] = [];
  for (const h of v.hosts as unknown[]) {
    if (!Array.isArray(h) || typeof h[0] !== 'string' || isIP(h[0]) === 0 || !isPort(h[1])) return undefined;
    hosts.push(transportAddress(h[0], h[1] as number));
  }
  const b = v.birthday as Record<string, unknown> | undefined;
  if (typeof b !== 'object' || b === null || typeof b.enabled !== 'boolean' || !isCount(b.budget) || !isCount(b.sockets)) return undefined;
  let classification: P2pClassification | null = null;
  if (v.classification !== null) {
    const c = v.classification as Record<string, unknown> | undefined;
    const allocation = c?.portAllocation as Record<string, unknown> | undefined;
    if (
      typeof c !== 'object' ||
      !BEHAVIOURS.includes(c.mapping as Behaviour) ||
      !BEHAVIOURS.includes(c.filtering as Behaviour) ||
      !RFC3489.includes(c.rfc3489 as Rfc3489Type) ||
      typeof allocation !== 'object' ||
      allocation === null ||
      !PATTERNS.includes(allocation.pattern as PortAllocation['pattern']) ||
      (allocation.delta !== undefined && !(Number.isInteger(allocation.delta) && Math.abs(allocation.delta as number) < 65536))
    ) {
      return undefined;
    }
    classification = {
      mapping: c.mapping as Behaviour,
      filtering: c.filtering as Behaviour,
      rfc3489: c.rfc3489 as Rfc3489Type,
      portAllocation: { pattern: allocation.pattern as PortAllocation['pattern'], ...(allocation.delta === undefined ? {} : { delta: allocation.delta as number }) },
    };
  }
  return { ufrag: v.ufrag, hosts, localPort: v.localPort as number, classification, birthday: { enabled: b.enabled, budget: b.budget as number, sockets: b.sockets as number } };
}

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535;
}

function isCount(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 1_000_000;
}
