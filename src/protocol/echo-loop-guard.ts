import { formatTransportAddress, sameIp, type TransportAddress } from '../codec/transport-address.js';
import { SourceRateLimiter, type RateLimit } from './rate-limiter.js';

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
  /** The most (socket, bytes) pairs and destination sockets remembered; the oldest are forgotten first. */
  readonly maxTracked: number;
}

/** The defaults: 3 identical echoes per 30 s, 10 plain echoes/s (burst 20) per socket, 65 536 remembered. */
export const DEFAULT_ECHO_LOOP_GUARD: EchoLoopGuardLimits = {
  maxIdenticalEchoes: 3,
  identicalWindowMs: 30_000,
  plainEchoRate: { packetsPerSecond: 10, burst: 20 },
  maxTracked: 65_536,
};

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
 */
export class EchoLoopGuard {
  private readonly identical = new Map<number, { firstMs: number; count: number }>();
  private readonly budget: SourceRateLimiter;

  constructor(
    private readonly ownSockets: readonly TransportAddress[],
    private readonly limits: EchoLoopGuardLimits = DEFAULT_ECHO_LOOP_GUARD,
  ) {
    this.budget = new SourceRateLimiter(limits.plainEchoRate, limits.maxTracked);
  }

  /** Refuses any datagram (control messages too) from a service port or from the server's own sockets. */
  refuseSource(from: TransportAddress): LoopGuardRefusal | undefined {
    if (this.ownSockets.some((own) => own.port === from.port && (sameIp(own.address, from.address) || own.address === '0.0.0.0' || own.address === '::'))) return 'own-socket';
    if (isLoopProneSourcePort(from.port)) return 'service-port';
    return undefined;
  }

  /** Counts a plain echo of `bytes` to `to` at `nowMs`; a refusal when it would repeat a loop or exceed the budget. */
  allowEcho(nowMs: number, to: TransportAddress, bytes: Uint8Array): LoopGuardRefusal | undefined {
    const socket = formatTransportAddress(to);
    const key = hashEcho(socket, bytes);
    let entry = this.identical.get(key);
    if (entry !== undefined && nowMs - entry.firstMs >= this.limits.identicalWindowMs) {
      this.identical.delete(key);
      entry = undefined;
    }
    if (entry !== undefined && entry.count >= this.limits.maxIdenticalEchoes) return 'repeated-echo';
    if (!this.budget.allow(socket, nowMs)) return 'echo-budget';
    if (entry === undefined) {
      if (this.identical.size >= this.limits.maxTracked) {
        const oldest = this.identical.keys().next().value;
        if (oldest !== undefined) this.identical.delete(oldest);
      }
      this.identical.set(key, { firstMs: nowMs, count: 1 });
    } else {
      entry.count += 1;
    }
    return undefined;
  }

  /** How many (socket, bytes) pairs it remembers. */
  get trackedEchoes(): number {
    return this.identical.size;
  }
}

/** A 53-bit hash of (socket, bytes): two 32-bit FNV-1a lanes with different seeds; a collision only costs an echo. */
function hashEcho(socket: string, bytes: Uint8Array): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < socket.length; i += 1) {
    const c = socket.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  a = Math.imul(a ^ 0xff, 0x01000193);
  for (let i = 0; i < bytes.length; i += 1) {
    const c = bytes[i] as number;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ (c + i), 0x01000193);
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}
