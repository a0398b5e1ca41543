import { randomBytes } from 'node:crypto';
import { formatTransportAddress, sameTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import { PeerTimeoutError, RendezvousUnreachableError } from '../errors.js';
import { decodeRendezvousMessage, encodeRendezvousMessage, type RendezvousMessage } from '../protocol/rendezvous-messages.js';
import type { Clock } from './ports.js';

/** What the room gave: the peer, and when to start. */
export interface Meeting {
  /** This side's address as the rendezvous server saw it (the server-reflexive candidate). */
  readonly observed: TransportAddress;
  /** The peer's address as the server saw it. */
  readonly peerObserved: TransportAddress;
  readonly peerInfo: Uint8Array;
  readonly role: 'a' | 'b';
  /** The agreed start on this side's clock. */
  readonly startAtMs: number;
  /** The smallest RTT to the server measured while polling. */
  readonly rttMs: number;
}

/** Options of the rendezvous client. */
export interface RendezvousClientOptions {
  readonly server: TransportAddress;
  readonly roomId: Uint8Array;
  readonly peerId: Uint8Array;
  readonly info: Uint8Array;
  /** Give up after this long without a peer. */
  readonly waitMs: number;
  /** How often to poll the room (and retry HELLO). */
  readonly pollMs?: number;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * The client half of the rendezvous protocol over one socket it shares with the connectivity checks:
 * HELLO until a cookie comes, then JOIN every `pollMs` (each JOIN measures the RTT to the server and reports
 * the smallest so far) until START. Datagrams are handed in through `receive`.
 */
export class RendezvousClient {
  private cookie: Uint8Array | undefined;
  private observed: TransportAddress | undefined;
  private readonly sentAt = new Map<string, number>();
  private rttMs: number | undefined;
  private cancelTimer: () => void = () => {};
  private settle: ((meeting: Meeting) => void) | undefined;
  private fail: ((error: Error) => void) | undefined;
  private startedMs = 0;
  private done = false;

  constructor(
    private readonly send: (bytes: Uint8Array, to: TransportAddress) => void,
    private readonly clock: Clock,
    private readonly options: RendezvousClientOptions,
  ) {}

  /** Polls the room until the peer comes (resolves) or the wait ends (rejects). */
  meet(): Promise<Meeting> {
    return new Promise((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
      this.startedMs = this.clock.nowMs();
      this.tick();
    });
  }

  /** Hands in a datagram that came to the shared socket; true when it was a rendezvous message. */
  receive(bytes: Uint8Array, from: TransportAddress): boolean {
    const message = decodeRendezvousMessage(bytes);
    if (message === undefined) return false;
    if (this.done || !sameTransportAddress(from, this.options.server)) return true;
    if (hex(message.roomId) !== hex(this.options.roomId) || hex(message.peerId) !== hex(this.options.peerId)) return true;
    this.learnRtt(message);
    switch (message.type) {
      case 'cookie':
        if (this.cookie === undefined && message.cookie !== undefined) {
          this.cookie = message.cookie;
          if (message.observed !== undefined) this.observed = message.observed;
          this.cancelTimer();
          this.tick();
        }
        return true;
      case 'waiting':
        if (message.observed !== undefined) this.observed = message.observed;
        return true;
      case 'start':
        this.finishWith(message);
        return true;
      case 'full':
        this.stop(new PeerTimeoutError(`the room is full: two other peers are in it (rendezvous ${formatTransportAddress(this.options.server)})`));
        return true;
      default:
        return true;
    }
  }

  /** Stops polling. */
  stop(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.cancelTimer();
    if (error !== undefined) this.fail?.(error);
  }

  private tick(): void {
    if (this.done) return;
    const elapsed = this.clock.nowMs() - this.startedMs;
    if (elapsed >= this.options.waitMs) {
      const seconds = (this.options.waitMs / 1000).toFixed(0);
      this.stop(
        this.cookie === undefined
          ? new RendezvousUnreachableError(`no answer from the rendezvous server ${formatTransportAddress(this.options.server)} in ${seconds} s`)
          : new PeerTimeoutError(`the peer did not come to the room within ${seconds} s`),
      );
      return;
    }
    const nonce = new Uint8Array(randomBytes(8));
    this.sentAt.set(hex(nonce), this.clock.nowMs());
    if (this.sentAt.size > 64) this.sentAt.delete(this.sentAt.keys().next().value!);
    const base = { roomId: this.options.roomId, peerId: this.options.peerId, nonce };
    const message: RendezvousMessage =
      this.cookie === undefined
        ? { type: 'hello', ...base }
        : { type: 'join', ...base, cookie: this.cookie, info: this.options.info, ...(this.rttMs === undefined ? {} : { rttMs: this.rttMs }) };
    this.send(encodeRendezvousMessage(message), this.options.server);
    this.cancelTimer = this.clock.setTimer(Math.min(this.options.pollMs ?? 250, this.options.waitMs - elapsed), () => this.tick());
  }

  private learnRtt(message: RendezvousMessage): void {
    if (message.nonce === undefined) return;
    const sent = this.sentAt.get(hex(message.nonce));
    if (sent === undefined) return;
    const rtt = this.clock.nowMs() - sent;
    this.rttMs = this.rttMs === undefined ? rtt : Math.min(this.rttMs, rtt);
  }

  private finishWith(message: RendezvousMessage): void {
    if (message.observed === undefined || this.done) return;
    const observed = this.observed;
    if (observed === undefined) return; // a START before any WAITING/COOKIE cannot be ours
    this.done = true;
    this.cancelTimer();
    this.settle?.({
      observed,
      peerObserved: message.observed,
      peerInfo: message.info ?? new Uint8Array(0),
      role: message.role ?? 'a',
      startAtMs: this.clock.nowMs() + (message.delayMs ?? 0),
      rttMs: this.rttMs ?? 0,
    });
  }
}
