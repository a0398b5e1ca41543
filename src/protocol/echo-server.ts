import { createHmac, randomBytes } from 'node:crypto';
import { formatTransportAddress, transportAddress, type TransportAddress } from '../codec/transport-address.js';
import { NatscopeError } from '../errors.js';
import { decodeEchoMessage, encodeEchoMessage, isEchoControl, type ProbeVia } from './echo-messages.js';
import type { DatagramAction } from './datagram-action.js';
import { SourceRateLimiter, type RateLimit } from './rate-limiter.js';
import type { ServerSocketKey } from './stun-server.js';

/** Configuration of the echo server. */
export interface EchoServerConfig {
  readonly address: string;
  readonly port: number;
  readonly alternatePort?: number;
  readonly alternateAddress?: string;
  /** Secret for registration cookies; random by default. */
  readonly secret?: Uint8Array;
  readonly rateLimit?: RateLimit;
  /** A registration lives this long after its last REGISTER. */
  readonly registrationTtlMs?: number;
  readonly maxRegistrations?: number;
  /** The longest delay a probe may be asked for. */
  readonly maxProbeDelayMs?: number;
  readonly maxProbesPerRegistration?: number;
  readonly maxPendingProbes?: number;
  /** Copies of each probe (loss on the way in must not read as a closed hole). */
  readonly probeCopies?: number;
}

/** Echo server defaults. */
export const DEFAULT_ECHO_LIMITS = {
  rateLimit: { packetsPerSecond: 200, burst: 1000 },
  registrationTtlMs: 20 * 60_000,
  maxRegistrations: 100_000,
  maxProbeDelayMs: 15 * 60_000,
  maxProbesPerRegistration: 512,
  maxPendingProbes: 100_000,
  probeCopies: 2,
} as const;

type Action = DatagramAction<ServerSocketKey>;

interface Registration {
  readonly address: TransportAddress;
  readonly socket: ServerSocketKey;
  expiresAtMs: number;
  probes: number;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const PROBE_COPY_GAP_MS = 20;

/**
 * The companion echo server, Sans-IO. Plain datagrams are echoed from the socket they came in on.
 * Control messages register a probe socket and ask for probes to it later, from the same or another socket.
 * It only ever sends to an address that registered itself and proved it by echoing the cookie it got there;
 * replies are never larger than requests, and each probe request yields at most `probeCopies` probes.
 */
export class EchoServerProtocol {
  private readonly registrations = new Map<string, Registration>();
  private pending: Array<{ atMs: number; via: ServerSocketKey; to: TransportAddress; bytes: Uint8Array }> = [];
  private readonly limiter: SourceRateLimiter;
  private readonly secret: Uint8Array;
  private readonly limits: typeof DEFAULT_ECHO_LIMITS;
  private lastSweepMs = -Infinity;

  constructor(readonly config: EchoServerConfig) {
    if (config.alternateAddress !== undefined && config.alternatePort === undefined) {
      throw new NatscopeError('ERR_INVALID_ARGUMENT', 'an alternate address needs an alternate port');
    }
    this.secret = config.secret ?? new Uint8Array(randomBytes(32));
    this.limits = {
      rateLimit: config.rateLimit ?? DEFAULT_ECHO_LIMITS.rateLimit,
      registrationTtlMs: config.registrationTtlMs ?? DEFAULT_ECHO_LIMITS.registrationTtlMs,
      maxRegistrations: config.maxRegistrations ?? DEFAULT_ECHO_LIMITS.maxRegistrations,
      maxProbeDelayMs: config.maxProbeDelayMs ?? DEFAULT_ECHO_LIMITS.maxProbeDelayMs,
      maxProbesPerRegistration: config.maxProbesPerRegistration ?? DEFAULT_ECHO_LIMITS.maxProbesPerRegistration,
      maxPendingProbes: config.maxPendingProbes ?? DEFAULT_ECHO_LIMITS.maxPendingProbes,
      probeCopies: config.probeCopies ?? DEFAULT_ECHO_LIMITS.probeCopies,
    } as typeof DEFAULT_ECHO_LIMITS;
    this.limiter = new SourceRateLimiter(this.limits.rateLimit);
  }

  /** The sockets: the main one, and the alternate port and address when configured. */
  sockets(): ReadonlyArray<{ readonly key: ServerSocketKey; readonly local: TransportAddress }> {
    const list: Array<{ key: ServerSocketKey; local: TransportAddress }> = [
      { key: { address: 'primary', port: 'primary' }, local: transportAddress(this.config.address, this.config.port) },
    ];
    if (this.config.alternatePort !== undefined) {
      list.push({ key: { address: 'primary', port: 'alternate' }, local: transportAddress(this.config.address, this.config.alternatePort) });
      if (this.config.alternateAddress !== undefined) {
        list.push({ key: { address: 'alternate', port: 'alternate' }, local: transportAddress(this.config.alternateAddress, this.config.alternatePort) });
      }
    }
    return list;
  }

  /** Handles one datagram that arrived on `arrivedOn`. */
  handleDatagram(nowMs: number, bytes: Uint8Array, from: TransportAddress, arrivedOn: ServerSocketKey): Action[] {
    if (!this.limiter.allow(from.address, nowMs)) return [{ type: 'ignore', reason: 'rate-limited' }];
    if (bytes.length === 0) return [{ type: 'ignore', reason: 'empty' }];
    if (!isEchoControl(bytes)) return [{ type: 'send', via: arrivedOn, to: from, bytes: Uint8Array.from(bytes) }];
    const message = decodeEchoMessage(bytes);
    if (message === undefined) return [{ type: 'ignore', reason: 'malformed' }];
    this.expire(nowMs);
    switch (message.type) {
      case 'register':
        return this.register(nowMs, message.token, from, arrivedOn);
      case 'probe-request': {
        const found = this.registrations.get(hex(message.token));
        const registration = found !== undefined && found.expiresAtMs > nowMs ? found : undefined;
        const accepted =
          registration !== undefined &&
          Buffer.from(this.cookie(message.token, registration.address)).equals(Buffer.from(message.cookie)) &&
          registration.probes < this.limits.maxProbesPerRegistration &&
          message.delayMs <= this.limits.maxProbeDelayMs &&
          this.pending.length + this.limits.probeCopies <= this.limits.maxPendingProbes &&
          this.socketFor(message.via) !== undefined;
        const ack = encodeEchoMessage({ type: 'probe-ack', token: message.token, nonce: message.nonce, accepted });
        if (!accepted || registration === undefined) return [{ type: 'send', via: arrivedOn, to: from, bytes: ack }];
        registration.probes += 1;
        const via = this.socketFor(message.via) ?? registration.socket;
        const probe = encodeEchoMessage({ type: 'probe', token: message.token, nonce: message.nonce });
        for (let copy = 0; copy < this.limits.probeCopies; copy += 1) {
          this.pending.push({ atMs: nowMs + message.delayMs + copy * PROBE_COPY_GAP_MS, via: message.via === 'same' ? registration.socket : via, to: registration.address, bytes: probe });
        }
        this.pending.sort((a, b) => a.atMs - b.atMs);
        return [{ type: 'send', via: arrivedOn, to: from, bytes: ack }, ...this.handleTimeout(nowMs)];
      }
      default:
        // Replies and probes are what the server sends, never what it answers.
        return [{ type: 'ignore', reason: 'unexpected' }];
    }
  }

  /** When the next scheduled probe is due. */
  nextTimeoutMs(): number | undefined {
    return this.pending[0]?.atMs;
  }

  /** Sends the probes that are due. */
  handleTimeout(nowMs: number): Action[] {
    const due: Action[] = [];
    while (this.pending.length > 0 && (this.pending[0]?.atMs ?? Infinity) <= nowMs) {
      const next = this.pending.shift()!;
      due.push({ type: 'send', via: next.via, to: next.to, bytes: next.bytes });
    }
    return due;
  }

  /** How many registrations are held. */
  get registrationCount(): number {
    return this.registrations.size;
  }

  private register(nowMs: number, token: Uint8Array, from: TransportAddress, arrivedOn: ServerSocketKey): Action[] {
    const key = hex(token);
    const existing = this.registrations.get(key);
    if (existing === undefined && this.registrations.size >= this.limits.maxRegistrations) return [{ type: 'ignore', reason: 'registrations-full' }];
    // A token re-registered from another address (a new mapping) moves there, with a new cookie.
    this.registrations.set(key, { address: from, socket: arrivedOn, expiresAtMs: nowMs + this.limits.registrationTtlMs, probes: existing !== undefined && formatTransportAddress(existing.address) === formatTransportAddress(from) ? existing.probes : 0 });
    const reply = encodeEchoMessage({ type: 'registered', token, cookie: this.cookie(token, from), observed: from });
    return [{ type: 'send', via: arrivedOn, to: from, bytes: reply }];
  }

  private cookie(token: Uint8Array, address: TransportAddress): Uint8Array {
    return new Uint8Array(createHmac('sha256', this.secret).update(token).update(formatTransportAddress(address)).digest().subarray(0, 16));
  }

  private socketFor(via: ProbeVia): ServerSocketKey | undefined {
    if (via === 'same') return { address: 'primary', port: 'primary' };
    if (via === 'alternate-port') return this.config.alternatePort === undefined ? undefined : { address: 'primary', port: 'alternate' };
    return this.config.alternateAddress === undefined ? undefined : { address: 'alternate', port: 'alternate' };
  }

  private expire(nowMs: number): void {
    // A sweep at most once a second keeps a flood of control messages from costing a scan each.
    if (nowMs - this.lastSweepMs < 1000) return;
    this.lastSweepMs = nowMs;
    for (const [key, registration] of this.registrations) {
      if (registration.expiresAtMs <= nowMs) this.registrations.delete(key);
    }
  }
}
