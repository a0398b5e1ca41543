import { createHmac, randomBytes } from 'node:crypto';
import { formatTransportAddress, transportAddress, type TransportAddress } from '../codec/transport-address.js';
import { NatscopeError } from '../errors.js';
import { DEFAULT_ECHO_LOOP_GUARD, EchoLoopGuard, type EchoLoopGuardLimits } from './echo-loop-guard.js';
import { decodeEchoMessage, encodeEchoMessage, isEchoControl, type BusyReason, type ProbeVia } from './echo-messages.js';
import type { DatagramAction } from './datagram-action.js';
import { LazyFifo } from './lazy-fifo.js';
import { MinHeap } from './min-heap.js';
import type { RateLimit } from './rate-limiter.js';
import { SourceBuckets } from './source-buckets.js';
import { sourcePrefixOf } from './source-prefix.js';
import type { ServerSocketKey } from './stun-server.js';

/** Configuration of the echo server. */
export interface EchoServerConfig {
  readonly address: string;
  readonly port: number;
  readonly alternatePort?: number;
  readonly alternateAddress?: string;
  /** Secret for registration cookies; random by default. */
  readonly secret?: Uint8Array;
  /** Per-source token bucket over every datagram; 'off' for labs and benchmarks. */
  readonly rateLimit?: RateLimit | 'off';
  /** The most sources (IPv4 addresses, IPv6 /64s) tracked at once, by the rate limiter and the registration table. */
  readonly maxSources?: number;
  /** A registration lives this long after its last REGISTER. */
  readonly registrationTtlMs?: number;
  readonly maxRegistrations?: number;
  /** Registrations one source may hold. */
  readonly maxRegistrationsPerSource?: number;
  /**
   * When room is short, a registration idle this long may be reclaimed: a source at its limit gives up its own least
   * recently used one (no REGISTER or probe request for this long), a full table its oldest never-probed one.
   */
  readonly reclaimAfterIdleMs?: number;
  /** The longest delay a probe may be asked for. */
  readonly maxProbeDelayMs?: number;
  readonly maxProbesPerRegistration?: number;
  readonly maxPendingProbes?: number;
  /** Pending probes one source may have asked for. */
  readonly maxPendingProbesPerSource?: number;
  /** Copies of each probe (loss on the way in must not read as a closed hole). */
  readonly probeCopies?: number;
  /** What keeps the server out of echo loops. */
  readonly loopGuard?: Partial<EchoLoopGuardLimits>;
}

/** The server's limits, every default filled in (EchoServerConfig explains each). */
export interface EchoServerLimits {
  readonly rateLimit: RateLimit | 'off';
  readonly maxSources: number;
  readonly registrationTtlMs: number;
  readonly maxRegistrations: number;
  readonly maxRegistrationsPerSource: number;
  readonly reclaimAfterIdleMs: number;
  readonly maxProbeDelayMs: number;
  readonly maxProbesPerRegistration: number;
  readonly maxPendingProbes: number;
  readonly maxPendingProbesPerSource: number;
  readonly probeCopies: number;
  readonly loopGuard: EchoLoopGuardLimits;
}

/** Echo server defaults. */
export const DEFAULT_ECHO_LIMITS: EchoServerLimits = Object.freeze({
  rateLimit: { packetsPerSecond: 200, burst: 1000 },
  maxSources: 65_536,
  registrationTtlMs: 20 * 60_000,
  maxRegistrations: 100_000,
  // 256 sources × 256 < 100 000: a /24 of attackers cannot fill the table.
  maxRegistrationsPerSource: 256,
  reclaimAfterIdleMs: 60_000,
  maxProbeDelayMs: 15 * 60_000,
  maxProbesPerRegistration: 512,
  maxPendingProbes: 100_000,
  maxPendingProbesPerSource: 256,
  probeCopies: 2,
  loopGuard: DEFAULT_ECHO_LOOP_GUARD,
});

/** At most one BUSY per source per this long: a refusal must not become a flood of its own. */
const BUSY_INTERVAL_MS = 1000;
const PROBE_COPY_GAP_MS = 20;
const MAX_SOURCES = 1_048_576;

type Action = DatagramAction<ServerSocketKey>;

interface Registration {
  readonly key: string;
  readonly address: TransportAddress;
  readonly socket: ServerSocketKey;
  readonly source: string;
  readonly registeredAtMs: number;
  /** Its last REGISTER or accepted probe request. */
  lastActiveMs: number;
  readonly expiresAtMs: number;
  probes: number;
}

interface PendingProbe {
  readonly atMs: number;
  readonly seq: number;
  readonly via: ServerSocketKey;
  readonly to: TransportAddress;
  readonly bytes: Uint8Array;
  readonly source: string;
}

/** What one source holds: its registrations (least recently used first) and how many of its probes wait. */
interface SourceHoldings {
  readonly registrations: Set<string>;
  pendingProbes: number;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * The companion echo server, Sans-IO. Plain datagrams are echoed from the socket they came in on, unless that would
 * feed an echo loop (EchoLoopGuard). Control messages register a probe socket and ask for probes to it later, from
 * the same or another socket. It only ever sends to an address that registered itself and proved it by echoing the
 * cookie it got there; replies are never larger than requests; each probe request yields at most `probeCopies`
 * probes; every table is bounded per source; and a request it has no room for gets BUSY (at most one a second per
 * source), never silence.
 */
export class EchoServerProtocol {
  /** By token. */
  private readonly registrations = new Map<string, Registration>();
  /** Every registration in order of its REGISTER, which is expiry order (one TTL for all). */
  private readonly byAge = new LazyFifo<Registration>((r) => this.registrations.get(r.key) === r);
  /** Registrations without a probe request yet, oldest first: reclaimable after `reclaimAfterIdleMs`. */
  private readonly unprobed = new LazyFifo<Registration>((r) => r.probes === 0 && this.registrations.get(r.key) === r);
  private readonly sources = new Map<string, SourceHoldings>();
  private readonly pending = new MinHeap<PendingProbe>((a, b) => a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq));
  private pendingSeq = 0;
  private readonly limiter: SourceBuckets | undefined;
  private readonly busyLimiter: SourceBuckets;
  private readonly loopGuard: EchoLoopGuard;
  private readonly secret: Uint8Array;
  /** The limits in force. */
  readonly limits: EchoServerLimits;

  constructor(readonly config: EchoServerConfig) {
    if (config.alternateAddress !== undefined && config.alternatePort === undefined) {
      throw new NatscopeError('ERR_INVALID_ARGUMENT', 'an alternate address needs an alternate port');
    }
    this.secret = config.secret ?? new Uint8Array(randomBytes(32));
    const pick = <K extends keyof EchoServerLimits>(key: K): EchoServerLimits[K] => (config[key as keyof EchoServerConfig] as EchoServerLimits[K] | undefined) ?? DEFAULT_ECHO_LIMITS[key];
    this.limits = {
      rateLimit: pick('rateLimit'),
      maxSources: pick('maxSources'),
      registrationTtlMs: pick('registrationTtlMs'),
      maxRegistrations: pick('maxRegistrations'),
      maxRegistrationsPerSource: pick('maxRegistrationsPerSource'),
      reclaimAfterIdleMs: pick('reclaimAfterIdleMs'),
      maxProbeDelayMs: pick('maxProbeDelayMs'),
      maxProbesPerRegistration: pick('maxProbesPerRegistration'),
      maxPendingProbes: pick('maxPendingProbes'),
      maxPendingProbesPerSource: pick('maxPendingProbesPerSource'),
      probeCopies: pick('probeCopies'),
      loopGuard: { ...DEFAULT_ECHO_LOOP_GUARD, ...config.loopGuard },
    };
    for (const key of ['maxSources', 'maxRegistrations', 'maxRegistrationsPerSource', 'maxPendingProbes', 'maxPendingProbesPerSource'] as const) {
      if (!Number.isInteger(this.limits[key]) || this.limits[key] < 1) throw new NatscopeError('ERR_INVALID_ARGUMENT', `${key} must be a whole number ≥ 1, not ${this.limits[key]}`);
    }
    // The per-source tables are allocated up front (24 bytes a slot), so the bound is also a memory bound.
    if (this.limits.maxSources > MAX_SOURCES) throw new NatscopeError('ERR_INVALID_ARGUMENT', `maxSources must be at most ${MAX_SOURCES}, not ${this.limits.maxSources}`);
    const rate = this.limits.rateLimit;
    this.limiter = rate === 'off' ? undefined : new SourceBuckets(rate, this.limits.maxSources);
    this.busyLimiter = new SourceBuckets({ packetsPerSecond: 1000 / BUSY_INTERVAL_MS, burst: 1 }, this.limits.maxSources);
    this.loopGuard = new EchoLoopGuard(this.sockets().map((s) => s.local), this.limits.loopGuard);
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
    if (bytes.length === 0) return [{ type: 'ignore', reason: 'empty' }];
    // Nothing from a service port or from itself is answered: that ends echo loops through services that change
    // the bytes (chargen RFC 864, daytime RFC 867, ...), where no count of identical echoes can.
    const control = isEchoControl(bytes);
    const refusedSource = this.loopGuard.refuseSource(from, control);
    if (refusedSource !== undefined) return [{ type: 'ignore', reason: 'loop-guard', detail: refusedSource }];
    const source = sourcePrefixOf(from.address);
    if (this.limiter !== undefined && !this.limiter.allow(source, nowMs)) {
      const message = control ? decodeEchoMessage(bytes) : undefined;
      if (message?.type === 'register' || message?.type === 'probe-request') {
        const rate = this.limits.rateLimit as RateLimit;
        return this.busy(nowMs, source, message.token, 'rate-limited', () => Math.ceil(1000 / rate.packetsPerSecond), from, arrivedOn);
      }
      return [{ type: 'ignore', reason: 'rate-limited' }];
    }
    if (!control) {
      const refusal = this.loopGuard.allowEcho(nowMs, from, bytes);
      if (refusal !== undefined) return [{ type: 'ignore', reason: 'loop-guard', detail: refusal }];
      return [{ type: 'send', via: arrivedOn, to: from, bytes: Uint8Array.from(bytes) }];
    }
    const message = decodeEchoMessage(bytes);
    if (message === undefined) return [{ type: 'ignore', reason: 'malformed' }];
    this.expire(nowMs);
    switch (message.type) {
      case 'register':
        return this.register(nowMs, message.token, from, source, arrivedOn);
      case 'probe-request':
        return this.requestProbe(nowMs, message, from, source, arrivedOn);
      default:
        // Replies, probes and BUSY are what the server sends, never what it answers: no loop between two servers.
        return [{ type: 'ignore', reason: 'unexpected' }];
    }
  }

  /** When the next scheduled probe is due. */
  nextTimeoutMs(): number | undefined {
    return this.pending.peek()?.atMs;
  }

  /** Sends the probes that are due. */
  handleTimeout(nowMs: number): Action[] {
    const due: Action[] = [];
    for (let next = this.pending.peek(); next !== undefined && next.atMs <= nowMs; next = this.pending.peek()) {
      this.pending.pop();
      const holdings = this.sources.get(next.source);
      if (holdings !== undefined) {
        holdings.pendingProbes -= 1;
        this.forgetIfEmpty(next.source, holdings);
      }
      due.push({ type: 'send', via: next.via, to: next.to, bytes: next.bytes });
    }
    return due;
  }

  /** How many registrations are held. */
  get registrationCount(): number {
    return this.registrations.size;
  }

  /** How many probes wait to be sent. */
  get pendingProbeCount(): number {
    return this.pending.size;
  }

  /** How many sources hold registrations or pending probes. */
  get sourceCount(): number {
    return this.sources.size;
  }

  private register(nowMs: number, token: Uint8Array, from: TransportAddress, source: string, arrivedOn: ServerSocketKey): Action[] {
    const key = hex(token);
    const existing = this.registrations.get(key);
    // A token re-registered from the same address keeps its probe count; from another (a new mapping) it moves there.
    const sameAddress = existing !== undefined && formatTransportAddress(existing.address) === formatTransportAddress(from);
    if (existing !== undefined) this.remove(existing);
    let holdings = this.sources.get(source);
    if (holdings !== undefined && holdings.registrations.size >= this.limits.maxRegistrationsPerSource && !this.reclaimFromSource(nowMs, holdings)) {
      const full = holdings;
      return this.busy(nowMs, source, token, 'source-limit', () => this.sourceRetryAfterMs(nowMs, full), from, arrivedOn);
    }
    if (this.registrations.size >= this.limits.maxRegistrations && !this.reclaimOldestUnprobed(nowMs)) {
      return this.busy(nowMs, source, token, 'registrations-full', () => this.tableRetryAfterMs(nowMs), from, arrivedOn);
    }
    if (holdings === undefined) {
      if (this.sources.size >= this.limits.maxSources) return this.busy(nowMs, source, token, 'registrations-full', () => this.tableRetryAfterMs(nowMs), from, arrivedOn);
      holdings = { registrations: new Set(), pendingProbes: 0 };
      this.sources.set(source, holdings);
    }
    const registration: Registration = {
      key,
      address: from,
      socket: arrivedOn,
      source,
      registeredAtMs: nowMs,
      lastActiveMs: nowMs,
      expiresAtMs: nowMs + this.limits.registrationTtlMs,
      probes: sameAddress ? existing.probes : 0,
    };
    this.registrations.set(key, registration);
    this.byAge.push(registration);
    holdings.registrations.add(key);
    if (registration.probes === 0) this.unprobed.push(registration);
    const reply = encodeEchoMessage({ type: 'registered', token, cookie: this.cookie(token, from), observed: from });
    return [{ type: 'send', via: arrivedOn, to: from, bytes: reply }];
  }

  private requestProbe(
    nowMs: number,
    message: { token: Uint8Array; cookie: Uint8Array; via: ProbeVia; delayMs: number; nonce: Uint8Array },
    from: TransportAddress,
    source: string,
    arrivedOn: ServerSocketKey,
  ): Action[] {
    const found = this.registrations.get(hex(message.token));
    const registration = found !== undefined && found.expiresAtMs > nowMs ? found : undefined;
    const via = this.socketFor(message.via);
    const valid =
      registration !== undefined &&
      Buffer.from(this.cookie(message.token, registration.address)).equals(Buffer.from(message.cookie)) &&
      registration.probes < this.limits.maxProbesPerRegistration &&
      message.delayMs <= this.limits.maxProbeDelayMs &&
      via !== undefined;
    if (!valid || registration === undefined) {
      return [{ type: 'send', via: arrivedOn, to: from, bytes: encodeEchoMessage({ type: 'probe-ack', token: message.token, nonce: message.nonce, accepted: false }) }];
    }
    // A valid request the server has no room for is BUSY, not "refused": the client must not read it as a closed hole.
    const copies = this.limits.probeCopies;
    const requester = this.sources.get(source);
    if ((requester?.pendingProbes ?? 0) + copies > this.limits.maxPendingProbesPerSource) {
      return this.busy(nowMs, source, message.token, 'source-limit', () => BUSY_INTERVAL_MS, from, arrivedOn);
    }
    if (this.pending.size + copies > this.limits.maxPendingProbes || (requester === undefined && this.sources.size >= this.limits.maxSources)) {
      return this.busy(nowMs, source, message.token, 'probes-full', () => (this.pending.peek()?.atMs ?? nowMs) - nowMs, from, arrivedOn);
    }
    let holdings = requester;
    if (holdings === undefined) {
      holdings = { registrations: new Set(), pendingProbes: 0 };
      this.sources.set(source, holdings);
    }
    if (registration.probes === 0) this.unprobed.staled();
    registration.probes += 1;
    registration.lastActiveMs = nowMs;
    // Most recently used goes last (its source's Set is small: at most maxRegistrationsPerSource).
    const owner = this.sources.get(registration.source);
    owner?.registrations.delete(registration.key);
    owner?.registrations.add(registration.key);
    holdings.pendingProbes += copies;
    const probe = encodeEchoMessage({ type: 'probe', token: message.token, nonce: message.nonce });
    const probeVia = message.via === 'same' ? registration.socket : via;
    for (let copy = 0; copy < copies; copy += 1) {
      this.pending.push({ atMs: nowMs + message.delayMs + copy * PROBE_COPY_GAP_MS, seq: this.pendingSeq++, via: probeVia, to: registration.address, bytes: probe, source });
    }
    const ack = encodeEchoMessage({ type: 'probe-ack', token: message.token, nonce: message.nonce, accepted: true });
    return [{ type: 'send', via: arrivedOn, to: from, bytes: ack }, ...this.handleTimeout(nowMs)];
  }

  /** BUSY (as large as the request, 64 bytes), at most one per source per second; past that, silence is counted. */
  private busy(nowMs: number, source: string, token: Uint8Array, reason: BusyReason, retryAfterMs: () => number, to: TransportAddress, via: ServerSocketKey): Action[] {
    if (!this.busyLimiter.allow(source, nowMs)) return [{ type: 'ignore', reason, detail: 'busy-suppressed' }];
    const bytes = encodeEchoMessage({ type: 'busy', token, reason, retryAfterMs: Math.max(BUSY_INTERVAL_MS, Math.ceil(retryAfterMs())) });
    return [{ type: 'send', via, to, bytes }];
  }

  /**
   * Frees a slot of a source at its limit: its least recently used registration, if idle long enough. A source only
   * ever displaces its own. O(1): the Set is least recently used first.
   */
  private reclaimFromSource(nowMs: number, holdings: SourceHoldings): boolean {
    const idlest = this.idlestOf(holdings);
    if (idlest === undefined || idlest.lastActiveMs + this.limits.reclaimAfterIdleMs > nowMs) return false;
    this.remove(idlest);
    return true;
  }

  private idlestOf(holdings: SourceHoldings): Registration | undefined {
    const key = holdings.registrations.values().next().value;
    return key === undefined ? undefined : this.registrations.get(key);
  }

  /** Frees a slot of a full table: the oldest registration that never had a probe request, if it is old enough. */
  private reclaimOldestUnprobed(nowMs: number): boolean {
    const oldest = this.unprobed.peek();
    if (oldest === undefined || oldest.registeredAtMs + this.limits.reclaimAfterIdleMs > nowMs) return false;
    this.remove(oldest);
    return true;
  }

  /** When the source's first slot frees: its least recently used registration becomes reclaimable (or expires). */
  private sourceRetryAfterMs(nowMs: number, holdings: SourceHoldings): number {
    const idlest = this.idlestOf(holdings);
    return idlest === undefined ? 0 : Math.min(idlest.lastActiveMs + this.limits.reclaimAfterIdleMs, idlest.expiresAtMs) - nowMs;
  }

  private tableRetryAfterMs(nowMs: number): number {
    const oldestUnprobed = this.unprobed.peek();
    const oldest = this.byAge.peek();
    return Math.min(oldestUnprobed === undefined ? Infinity : oldestUnprobed.registeredAtMs + this.limits.reclaimAfterIdleMs, oldest?.expiresAtMs ?? Infinity) - nowMs;
  }

  private remove(registration: Registration): void {
    if (registration.probes === 0) this.unprobed.staled();
    this.byAge.staled();
    this.registrations.delete(registration.key);
    const holdings = this.sources.get(registration.source);
    if (holdings === undefined) return;
    holdings.registrations.delete(registration.key);
    this.forgetIfEmpty(registration.source, holdings);
  }

  private forgetIfEmpty(source: string, holdings: SourceHoldings): void {
    if (holdings.registrations.size === 0 && holdings.pendingProbes <= 0) this.sources.delete(source);
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
    // byAge is in expiry order, so this costs one look plus one step per registration that expired.
    for (let oldest = this.byAge.peek(); oldest !== undefined && oldest.expiresAtMs <= nowMs; oldest = this.byAge.peek()) this.remove(oldest);
  }
}
