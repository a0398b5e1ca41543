import { AttributeType, MessageType, isComprehensionRequired } from '../codec/constants.js';
import { decodeStunMessage, looksLikeStun, type StunMessage } from '../codec/decode.js';
import { encodeBindingErrorResponse, encodeBindingSuccessResponse } from '../codec/encode.js';
import { transportAddress, type TransportAddress } from '../codec/transport-address.js';
import { NatscopeError } from '../errors.js';
import type { DatagramAction } from './datagram-action.js';
import { SourceRateLimiter, type RateLimit } from './rate-limiter.js';

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
  readonly rateLimit?: RateLimit;
  /** A response is never more than this many times the size of its request. */
  readonly maxAmplification?: number;
  /** The largest PADDING the server echoes (RFC 5780 §7.6). */
  readonly maxPaddingBytes?: number;
}

/** Why a datagram got no answer. */
export type IgnoreReason = 'rate-limited' | 'not-stun' | 'malformed' | 'not-a-binding-request' | 'bad-response-port';

/** What the socket layer must do with a datagram (a DatagramAction whose ignore reasons are known). */
export type ServerAction =
  | Extract<DatagramAction<ServerSocketKey>, { type: 'send' }>
  | { readonly type: 'ignore'; readonly reason: IgnoreReason; readonly detail?: string };

/**
 * Defaults: 200 packets/s per source IP with a burst of 1000 (a carrier NAT puts many clients behind one IP,
 * and one classification with retransmissions under loss sends ~60), 5× amplification at most, PADDING up to 1024 bytes.
 */
export const DEFAULT_STUN_SERVER_LIMITS = {
  rateLimit: { packetsPerSecond: 200, burst: 1000 },
  maxAmplification: 5,
  maxPaddingBytes: 1024,
} as const;

const KNOWN_ATTRIBUTES = new Set<number>(Object.values(AttributeType));

/**
 * The RFC 5780 STUN server, Sans-IO: `handleDatagram` maps one received datagram to one action.
 * Safe to expose: answers only Binding requests, only toward the requester's own IP,
 * never more than `maxAmplification` × the request's bytes, rate-limited per source IP.
 */
export class StunServerProtocol {
  private readonly limiter: SourceRateLimiter;
  private readonly maxAmplification: number;
  private readonly maxPaddingBytes: number;

  constructor(readonly config: StunServerConfig) {
    const { alternateAddress, alternatePort } = config;
    if ((alternateAddress === undefined) !== (alternatePort === undefined)) {
      throw new NatscopeError('ERR_INVALID_ARGUMENT', 'an RFC 5780 server needs both an alternate address and an alternate port');
    }
    this.limiter = new SourceRateLimiter(config.rateLimit ?? DEFAULT_STUN_SERVER_LIMITS.rateLimit);
    this.maxAmplification = config.maxAmplification ?? DEFAULT_STUN_SERVER_LIMITS.maxAmplification;
    this.maxPaddingBytes = config.maxPaddingBytes ?? DEFAULT_STUN_SERVER_LIMITS.maxPaddingBytes;
  }

  /** True when the server has an alternate address and port, and so does RFC 5780 tests. */
  get supportsRfc5780(): boolean {
    return this.config.alternateAddress !== undefined;
  }

  /** The sockets to open: one, or four for RFC 5780. */
  sockets(): ReadonlyArray<{ readonly key: ServerSocketKey; readonly local: TransportAddress }> {
    const keys: ServerSocketKey[] = this.supportsRfc5780
      ? [
          { address: 'primary', port: 'primary' },
          { address: 'primary', port: 'alternate' },
          { address: 'alternate', port: 'primary' },
          { address: 'alternate', port: 'alternate' },
        ]
      : [{ address: 'primary', port: 'primary' }];
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
    if (!this.limiter.allow(source.address, nowMs)) return { type: 'ignore', reason: 'rate-limited' };
    if (!looksLikeStun(bytes)) return { type: 'ignore', reason: 'not-stun' };
    let request: StunMessage;
    try {
      request = decodeStunMessage(bytes);
    } catch (error) {
      return { type: 'ignore', reason: 'malformed', detail: (error as Error).message };
    }
    // RFC 8489 §6.3: only requests are answered; indications and responses to us are dropped.
    if (request.messageType !== MessageType.BINDING_REQUEST) return { type: 'ignore', reason: 'not-a-binding-request' };

    const reply = (via: ServerSocketKey, response: Uint8Array, to: TransportAddress = source): ServerAction => ({
      type: 'send',
      via,
      to,
      bytes: response,
    });
    const error = (code: number, reason: string, unknownAttributes?: readonly number[]): ServerAction =>
      reply(
        arrivedOn,
        encodeBindingErrorResponse({
          transactionId: request.transactionId,
          code,
          reason,
          ...(unknownAttributes === undefined ? {} : { unknownAttributes }),
        }),
      );

    // RFC 8489 §6.3.1: unknown comprehension-required attributes get 420 with UNKNOWN-ATTRIBUTES.
    const unknown = request.attributeTypes.filter((type) => isComprehensionRequired(type) && !KNOWN_ATTRIBUTES.has(type));
    if (unknown.length > 0) return error(420, 'Unknown Attribute', unknown);

    const change = request.changeRequest;
    const wantsChange = change !== undefined && (change.changeIp || change.changePort);
    // RFC 5780 §6.1: a server without an alternate address answers CHANGE-REQUEST with 420.
    if (wantsChange && !this.supportsRfc5780) return error(420, 'Unknown Attribute', [AttributeType.CHANGE_REQUEST]);

    // RFC 5780 §6.1: respond from the other address and/or port than the request arrived on.
    const flip = (side: 'primary' | 'alternate'): 'primary' | 'alternate' => (side === 'primary' ? 'alternate' : 'primary');
    const via: ServerSocketKey = {
      address: change?.changeIp === true ? flip(arrivedOn.address) : arrivedOn.address,
      port: change?.changePort === true ? flip(arrivedOn.port) : arrivedOn.port,
    };

    // RFC 5780 §6.1 / §7.5: RESPONSE-PORT redirects the response to another port of the *same* IP.
    let destination = source;
    if (request.responsePort !== undefined) {
      if (request.responsePort === 0) return { type: 'ignore', reason: 'bad-response-port' };
      destination = transportAddress(source.address, request.responsePort);
    }

    const budget = bytes.length * this.maxAmplification;
    const response = this.buildSuccess(request, source, arrivedOn, via, budget);
    if (response === undefined) return { type: 'ignore', reason: 'malformed', detail: 'request too small for a bounded response' };
    return reply(via, response, destination);
  }

  /** Builds the largest response that fits `budget` bytes, dropping optional attributes first. */
  private buildSuccess(
    request: StunMessage,
    source: TransportAddress,
    arrivedOn: ServerSocketKey,
    via: ServerSocketKey,
    budget: number,
  ): Uint8Array | undefined {
    // RFC 5780 §7.4: OTHER-ADDRESS is where a change of both IP and port would answer from, seen from the arrival socket.
    const otherAddress = this.supportsRfc5780
      ? this.localAddress({
          address: arrivedOn.address === 'primary' ? 'alternate' : 'primary',
          port: arrivedOn.port === 'primary' ? 'alternate' : 'primary',
        })
      : undefined;
    const padding = Math.min(request.paddingLength ?? 0, this.maxPaddingBytes);
    // Each step drops one more optional attribute: SOFTWARE, then padding, MAPPED-ADDRESS, FINGERPRINT.
    const variants = [
      { software: true, padding: true, mapped: true, fingerprint: true },
      { software: false, padding: true, mapped: true, fingerprint: true },
      { software: false, padding: false, mapped: true, fingerprint: true },
      { software: false, padding: false, mapped: false, fingerprint: true },
      { software: false, padding: false, mapped: false, fingerprint: false },
    ];
    for (const variant of variants) {
      const bytes = encodeBindingSuccessResponse({
        transactionId: request.transactionId,
        xorMappedAddress: source,
        ...(variant.mapped ? { mappedAddress: source } : {}),
        // RFC 5780 §7.3: RESPONSE-ORIGIN is the address the response is sent from.
        responseOrigin: this.localAddress(via),
        ...(otherAddress === undefined ? {} : { otherAddress }),
        ...(variant.software && this.config.software !== undefined ? { software: this.config.software } : {}),
        ...(variant.padding && padding > 0 ? { paddingLength: padding } : {}),
        fingerprint: variant.fingerprint,
      });
      if (bytes.length <= budget) return bytes;
    }
    return undefined;
  }
}
