import { sameIp, type TransportAddress } from '../codec/transport-address.js';
import type { RateLimit } from './rate-limiter.js';
import { SourceBuckets } from './source-buckets.js';

/**
 * Limits that keep a public echo server out of echo loops (the old echo/chargen loop, RFC 862 and RFC 864 over UDP:
 * one datagram forged "from" another echo service makes the two bounce it forever).
 */
export interface EchoLoopGuardLimits {
  /** The same bytes to the same socket are echoed at most this many times per `identicalWindowMs`. */
  readonly maxIdenticalEchoes: number;
  readonly identicalWindowMs: number;
  /** Plain echoes per destination socket (a backstop for loops through services that change the bytes). */
  readonly plainEchoRate: RateLimit;
  /** Slots for (socket, bytes) pairs and for destination sockets: the memory is bounded by this. */
  readonly maxTracked: number;
}

/** The defaults: 3 identical echoes per 30 s, 10 plain echoes/s (burst 20) per socket, 65 536 remembered. */
export const DEFAULT_ECHO_LOOP_GUARD: EchoLoopGuardLimits = Object.freeze({
  maxIdenticalEchoes: 3,
  identicalWindowMs: 30_000,
  plainEchoRate: { packetsPerSecond: 10, burst: 20 },
  maxTracked: 65_536,
});

/**
 * Source ports the echo server never answers: every well-known port (below 1024: echo 7, discard 9, daytime 13,
 * qotd 17, chargen 19, time 37, DNS 53, NTP 123, SNMP 161, ...), and registered UDP services that answer arbitrary
 * datagrams, or other echo servers: SSDP 1900, STUN/TURN 3478–3480 and 5349–5350, WS-Discovery 3702, SIP 5060–5061,
 * NAT-PMP/PCP 5351, mDNS 5353, natscope echo 9199–9200, memcached 11211. Clients send from ephemeral ports.
 */
export function isLoopProneSourcePort(port: number): boolean {
  if (port < 1024) return true;
  if (port >= 3478 && port <= 3480) return true;
  if (port >= 5349 && port <= 5351) return true;
  if (port === 5060 || port === 5061 || port === 5353) return true;
  if (port === 9199 || port === 9200) return true;
  return port === 1900 || port === 3702 || port === 11211;
}

/** Why a datagram gets no answer from the echo server (loop guard). */
export type LoopGuardRefusal = 'service-port' | 'own-socket' | 'repeated-echo' | 'echo-budget';

/**
 * Decides which datagrams the echo server may answer, Sans-IO. A loop carries one datagram back and forth between
 * two sockets, so it ends at the first datagram either side drops; a service that returns the bytes it got is
 * recognised by getting back what was just sent to it (the count of identical echoes per socket), and services
 * that change the bytes live on the ports refused outright.
 *
 * Its memory is two direct-mapped tables of `maxTracked` slots (typed arrays, no allocation per datagram, O(1)):
 * a newcomer overwrites whatever shared its slot, under a per-instance random seed so no one can aim at a slot.
 */
export class EchoLoopGuard {
  private readonly slots: number;
  private readonly seed: number;
  // Identical echoes: (socket, bytes) hash, when its window started, how many echoes in it.
  private readonly echoKeys: Float64Array;
  private readonly echoFirstMs: Float64Array;
  private readonly echoCounts: Uint32Array;
  // Plain-echo budget per destination socket.
  private readonly budget: SourceBuckets;

  constructor(
    private readonly ownSockets: readonly TransportAddress[],
    private readonly limits: EchoLoopGuardLimits = DEFAULT_ECHO_LOOP_GUARD,
    seed: number = (Math.random() * 0x100000000) >>> 0,
  ) {
    this.slots = Math.max(1, Math.floor(limits.maxTracked));
    this.seed = seed >>> 0;
    this.echoKeys = new Float64Array(this.slots).fill(-1);
    this.echoFirstMs = new Float64Array(this.slots);
    this.echoCounts = new Uint32Array(this.slots);
    this.budget = new SourceBuckets(limits.plainEchoRate, this.slots, this.seed);
  }

  /**
   * Refuses a datagram from the server's own sockets, or from a service port: any of them for a plain datagram, a
   * well-known one (below 1024) for a control message. A control answer cannot loop (the server never answers what
   * it sends), and a NAT that picks random ports may give a real client 5060 or 9199, but never a port below 1024.
   */
  refuseSource(from: TransportAddress, control: boolean): LoopGuardRefusal | undefined {
    if (this.ownSockets.some((own) => own.port === from.port && (sameIp(own.address, from.address) || own.address === '0.0.0.0' || own.address === '::'))) return 'own-socket';
    if (control ? from.port < 1024 : isLoopProneSourcePort(from.port)) return 'service-port';
    return undefined;
  }

  /** Counts a plain echo of `bytes` to `to` at `nowMs`; a refusal when it would repeat a loop or exceed the budget. */
  allowEcho(nowMs: number, to: TransportAddress, bytes: Uint8Array): LoopGuardRefusal | undefined {
    const socketHash = hashText(this.seed, to.address, to.port);
    const echoHash = hashBytes(socketHash, bytes);
    const echoSlot = echoHash % this.slots;
    const known = this.echoKeys[echoSlot] === echoHash && nowMs - (this.echoFirstMs[echoSlot] as number) < this.limits.identicalWindowMs;
    if (known && (this.echoCounts[echoSlot] as number) >= this.limits.maxIdenticalEchoes) return 'repeated-echo';
    if (!this.budget.allowHash(socketHash, nowMs)) return 'echo-budget';
    if (known) {
      this.echoCounts[echoSlot] = (this.echoCounts[echoSlot] as number) + 1;
    } else {
      this.echoKeys[echoSlot] = echoHash;
      this.echoFirstMs[echoSlot] = nowMs;
      this.echoCounts[echoSlot] = 1;
    }
    return undefined;
  }

  /** How many (socket, bytes) pairs it remembers. */
  get trackedEchoes(): number {
    let count = 0;
    for (const key of this.echoKeys) if (key >= 0) count += 1;
    return count;
  }
}

const FNV_PRIME = 0x01000193;

/** 53-bit hash of a socket (seeded): two 32-bit FNV-1a lanes. */
function hashText(seed: number, address: string, port: number): number {
  let a = 0x811c9dc5 ^ seed;
  let b = 0x5bd1e995 ^ seed;
  for (let i = 0; i < address.length; i += 1) {
    const c = address.charCodeAt(i);
    a = Math.imul(a ^ c, FNV_PRIME);
    b = Math.imul(b ^ c, FNV_PRIME);
  }
  a = Math.imul(a ^ (port & 0xff), FNV_PRIME);
  a = Math.imul(a ^ (port >>> 8), FNV_PRIME);
  b = Math.imul(b ^ port, FNV_PRIME);
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/** 53-bit hash of bytes, chained from a 53-bit start; a collision only costs an echo. */
function hashBytes(start: number, bytes: Uint8Array): number {
  let a = (start % 0x100000000) >>> 0;
  let b = Math.floor(start / 0x100000000) ^ 0x27d4eb2f;
  for (let i = 0; i < bytes.length; i += 1) {
    const c = bytes[i] as number;
    a = Math.imul(a ^ c, FNV_PRIME);
    b = Math.imul(b ^ (c + i), FNV_PRIME);
  }
  a = Math.imul(a ^ bytes.length, FNV_PRIME);
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}
