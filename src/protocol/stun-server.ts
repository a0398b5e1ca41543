import { transportAddress, type TransportAddress } from '../codec/transport-address.js';
import { NatscopeError } from '../errors.js';
import type { DatagramAction } from './datagram-action.js';
import { DEFAULT_MAX_SOURCES, SourceRateLimiter, type RateLimit } from './rate-limiter.js';
import { BindingResponseWriter, readBindingRequest, sourceIpBytes, type SocketIndex } from './stun-fast-path.js';

/** Which of the server's (up to) four sockets: RFC 5780 §3's primary/alternate address × primary/alternate port. */
export interface ServerSocketKey {
  readonly address: 'primary' | 'alternate';
  readonly port: 'primary' | 'alternate';
}

/** Configuration of an RFC 5780 STUN server. */
export interface StunServerConfig {
  readonly primaryAddress: string;
  readonly primaryPort: number;
  /** Without it the server is a plain RFC 8489 server and answers CHANGE-REQUEST with 420 (RFC 5780 §6.1). */
  readonly alternateAddress?: string;
  readonly alternatePort?: number;
  readonly software?: string;
  /** Per source IP; 'off' answers everyone (labs, benchmarks). */
  readonly rateLimit?: RateLimit | 'off';
  /** Most source IPs the rate limiter tracks at once. */
  readonly maxSources?: number;
  /** A response is never more than this many times the size of its request. */
  readonly maxAmplification?: number;
}

/** Why a datagram got no answer. */
export type IgnoreReason =
  | 'rate-limited'
  | 'not-stun'
  | 'malformed'
  | 'not-a-binding-request'
  | 'bad-response-port'
  | 'over-amplification-bound';

/** What the socket layer must do with a datagram (a DatagramAction whose ignore reasons are known). */
export type ServerAction =
  | Extract<DatagramAction<ServerSocketKey>, { type: 'send' }>
  | { readonly type: 'ignore'; readonly reason: IgnoreReason; readonly detail?: string };

/** What a STUN server has seen and done since it started: plain numbers, read by metrics and the drop log. */
export interface StunServerStats {
  /** Binding requests answered or refused, by kind: RFC 5389/8489 (magic cookie) or RFC 3489 (none). */
  requests: { rfc8489: number; rfc3489: number };
  responses: { success: number; error: number };
  drops: Record<IgnoreReason, number>;
  bytesIn: number;
  bytesOut: number;
  /** The largest response/request size ratio sent (RFC 8489 §6.3 amplification). */
  largestRatio: number;
}

/** A fresh, all-zero StunServerStats. */
export function emptyStunServerStats(): StunServerStats {
  return {
    requests: { rfc8489: 0, rfc3489: 0 },
    responses: { success: 0, error: 0 },
    drops: { 'rate-limited': 0, 'not-stun': 0, malformed: 0, 'not-a-binding-request': 0, 'bad-response-port': 0, 'over-amplification-bound': 0 },
    bytesIn: 0,
    bytesOut: 0,
    largestRatio: 0,
  };
}

/**
 * Defaults: 200 packets/s per source IP with a burst of 1000 (a carrier NAT puts many clients behind one IP,
 * and one classification with retransmissions under loss sends ~60), 65,536 sources tracked, 5× amplification at most.
 * PADDING has no fixed cap: a padded request pays for its padded answer (RFC 5780 §7.6).
 */
export const DEFAULT_STUN_SERVER_LIMITS = {
  rateLimit: { packetsPerSecond: 200, burst: 1000 },
  maxSources: DEFAULT_MAX_SOURCES,
  maxAmplification: 5,
} as const;

const SOCKET_KEYS: readonly ServerSocketKey[] = [
  { address: 'primary', port: 'primary' },
  { address: 'primary', port: 'alternate' },
  { address: 'alternate', port: 'primary' },
  { address: 'alternate', port: 'alternate' },
];
const CHANGE_IP = 0x04;
const CHANGE_PORT = 0x02;
const CHANGE_REQUEST_ATTRIBUTE = 0x0003;

function socketIndex(key: ServerSocketKey): SocketIndex {
  return ((key.address === 'alternate' ? 2 : 0) + (key.port === 'alternate' ? 1 : 0)) as SocketIndex;
}

/**
 * The RFC 5780 STUN server, Sans-IO: `handleDatagram` maps one received datagram to one action.
 * Safe to expose: answers only Binding requests, only toward the requester's own IP,
 * never more than `maxAmplification` × the request's bytes, rate-limited per source IP.
 * It decides on the raw bytes (`stun-fast-path.ts`); tests prove it equal to the codec (`stun-server-codec-path.ts`).
 */
export class StunServerProtocol {
  /** Counters since start. */
  readonly stats: StunServerStats = emptyStunServerStats();
  private readonly limiter: SourceRateLimiter;
  private readonly maxAmplification: number;
  private readonly writer: BindingResponseWriter;
  private readonly ip4 = new Uint8Array(4);

  constructor(readonly config: StunServerConfig) {
    const { alternateAddress, alternatePort } = config;
    if ((alternateAddress === undefined) !== (alternatePort === undefined)) {
      throw new NatscopeError('ERR_INVALID_ARGUMENT', 'an RFC 5780 server needs both an alternate address and an alternate port');
    }
    this.limiter = new SourceRateLimiter(config.rateLimit ?? DEFAULT_STUN_SERVER_LIMITS.rateLimit, config.maxSources ?? DEFAULT_STUN_SERVER_LIMITS.maxSources);
    this.maxAmplification = config.maxAmplification ?? DEFAULT_STUN_SERVER_LIMITS.maxAmplification;
    const socketAddresses = (this.supportsRfc5780 ? SOCKET_KEYS : SOCKET_KEYS.slice(0, 1)).map((key) => this.localAddress(key));
    this.writer = new BindingResponseWriter({ socketAddresses, ...(config.software === undefined ? {} : { software: config.software }) });
  }

  /** True when the server has an alternate address and port, and so does RFC 5780 tests. */
  get supportsRfc5780(): boolean {
    return this.config.alternateAddress !== undefined;
  }

  /** How many source IPs the rate limiter tracks now. */
  get sourcesTracked(): number {
    return this.limiter.size;
  }

  /** The sockets to open: one, or four for RFC 5780. */
  sockets(): ReadonlyArray<{ readonly key: ServerSocketKey; readonly local: TransportAddress }> {
    const keys = this.supportsRfc5780 ? SOCKET_KEYS : SOCKET_KEYS.slice(0, 1);
    return keys.map((key) => ({ key, local: this.localAddress(key) }));
  }

  /** The transport address of one socket. */
  localAddress(key: ServerSocketKey): TransportAddress {
    const address = key.address === 'primary' ? this.config.primaryAddress : (this.config.alternateAddress ?? this.config.primaryAddress);
    const port = key.port === 'primary' ? this.config.primaryPort : (this.config.alternatePort ?? this.config.primaryPort);
    return transportAddress(address, port);
  }

  /** Decides what to do with `bytes` that arrived from `source` on socket `arrivedOn` at `nowMs`. */
  handleDatagram(nowMs: number, bytes: Uint8Array, source: TransportAddress, arrivedOn: ServerSocketKey): ServerAction {
    const stats = this.stats;
    stats.bytesIn += bytes.length;
    if (!this.limiter.allow(source.address, nowMs)) return this.drop('rate-limited');
    const view = readBindingRequest(bytes);
    if (typeof view === 'string') return this.drop(view);
    if (view.legacy) stats.requests.rfc3489 += 1;
    else stats.requests.rfc8489 += 1;

    const arrivedIndex = socketIndex(arrivedOn);
    const budget = bytes.length * this.maxAmplification;
    const error = (code: number, reason: string, unknown?: readonly number[]): ServerAction => {
      const response = this.writer.writeError(bytes, view.legacy, code, reason, unknown);
      if (response.length > budget) return this.drop('over-amplification-bound');
      return this.send(SOCKET_KEYS[arrivedIndex]!, source, response, bytes.length);
    };

    // RFC 8489 §6.3.1: unknown comprehension-required attributes get 420 with UNKNOWN-ATTRIBUTES.
    if (view.unknownRequired !== undefined) return error(420, 'Unknown Attribute', view.unknownRequired);
    const flags = view.changeFlags;
    // RFC 5780 §6.1: a server without an alternate address answers CHANGE-REQUEST with 420.
    if (flags !== 0 && !this.supportsRfc5780) return error(420, 'Unknown Attribute', [CHANGE_REQUEST_ATTRIBUTE]);
    // RFC 5780 §7.5/§7.6: PADDING with RESPONSE-PORT is a bad request (the padded answer would go to another port).
    if (view.responsePort >= 0 && view.paddingLength >= 0) return error(400, 'Bad Request');

    // RFC 5780 §6.1: respond from the other address and/or port than the request arrived on.
    const viaIndex = (arrivedIndex ^ ((flags & CHANGE_IP) !== 0 ? 2 : 0) ^ ((flags & CHANGE_PORT) !== 0 ? 1 : 0)) as SocketIndex;

    // RFC 5780 §7.5: RESPONSE-PORT redirects the response to another port of the *same* IP.
    let destination = source;
    if (view.responsePort >= 0) {
      if (view.responsePort === 0) return this.drop('bad-response-port');
      destination = { family: source.family, address: source.address, port: view.responsePort };
    }
    const ip = sourceIpBytes(source.address, this.ip4);
    const response = this.writer.writeSuccess(bytes, view, ip, source.port, arrivedIndex, viaIndex, budget);
    if (response === undefined) return this.drop('over-amplification-bound');
    return this.send(SOCKET_KEYS[viaIndex]!, destination, response, bytes.length);
  }

  private drop(reason: IgnoreReason): ServerAction {
    this.stats.drops[reason] += 1;
    return { type: 'ignore', reason };
  }

  private send(via: ServerSocketKey, to: TransportAddress, bytes: Uint8Array, requestLength: number): ServerAction {
    const stats = this.stats;
    if (bytes[1] === 0x11) stats.responses.error += 1;
    else stats.responses.success += 1;
    stats.bytesOut += bytes.length;
    const ratio = bytes.length / requestLength;
    if (ratio > stats.largestRatio) stats.largestRatio = ratio;
    return { type: 'send', via, to, bytes };
  }
}
