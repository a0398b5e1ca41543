import { randomBytes } from 'node:crypto';
import { sameTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import { decodeEchoMessage, encodeEchoMessage, isEchoControl, type BusyReason, type EchoMessage, type ProbeVia } from '../protocol/echo-messages.js';
import type { RetransmissionPolicy } from '../protocol/transaction.js';
import type { Clock, UdpSocket } from './ports.js';
import { Retransmitter } from './retransmitter.js';

/** A registration: the hole's external address as the echo server saw it, and the cookie that proves it. */
export interface Registration {
  readonly token: Uint8Array;
  readonly cookie: Uint8Array;
  readonly observed: TransportAddress;
  readonly answeredAtMs: number;
  readonly rttMs: number | undefined;
}

/** The server turned a request away for lack of room (echo protocol BUSY): it is up, and says when to retry. */
export interface EchoBusy {
  readonly type: 'busy';
  readonly reason: BusyReason;
  readonly retryAfterMs: number;
}

/** How a control exchange with no usable answer ended: silence, an ICMP error or a failed send (with its errno name). */
export interface EchoNoAnswer {
  readonly type: 'no-answer';
  readonly attempts: number;
  readonly systemError?: { readonly kind: 'send' | 'icmp'; readonly code: string };
  /** True when the client was closed before the exchange ended: no evidence about the server. */
  readonly cancelled?: boolean;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Speaks the echo server's protocol over one socket; only datagrams from the server's own sockets count. */
export class EchoClient {
  private readonly waiters = new Set<(message: EchoMessage | { type: 'echo'; bytes: Uint8Array }, from: TransportAddress) => boolean>();
  private readonly errorWaiters = new Set<(error: { kind: 'send' | 'icmp'; code: string }) => void>();
  /** Ends every pending exchange and probe wait: a closed client leaves no timer behind to keep the process up. */
  private readonly cancellers = new Set<() => void>();
  private closed = false;

  constructor(
    readonly socket: UdpSocket,
    private readonly clock: Clock,
    private readonly server: TransportAddress,
    private readonly serverSockets: readonly TransportAddress[] = [server],
  ) {
    socket.onDatagram((bytes, from) => {
      if (!this.serverSockets.some((s) => sameTransportAddress(s, from))) return; // strays
      const message = isEchoControl(bytes) ? decodeEchoMessage(bytes) : { type: 'echo' as const, bytes };
      if (message === undefined) return;
      for (const waiter of [...this.waiters]) if (waiter(message, from)) this.waiters.delete(waiter);
    });
    socket.onError?.((error) => {
      for (const waiter of [...this.errorWaiters]) waiter({ kind: error.kind, code: error.code });
    });
  }

  /**
   * Registers this socket; the answer must come from the server socket asked. Resolves with the registration, the
   * server's BUSY refusal, or how it went unanswered (an ICMP error or failed send ends it at once).
   */
  registerOrRefusal(policy: RetransmissionPolicy, token: Uint8Array = new Uint8Array(randomBytes(16))): Promise<Registration | EchoBusy | EchoNoAnswer> {
    const request = encodeEchoMessage({ type: 'register', token });
    return this.exchange<{ type: 'registered'; cookie: Uint8Array; observed: TransportAddress } | EchoBusy>(policy, request, (message, from) => {
      if (!sameTransportAddress(from, this.server) || hex(message.type === 'echo' ? new Uint8Array() : message.token) !== hex(token)) return undefined;
      if (message.type === 'registered') return { type: 'registered', cookie: message.cookie, observed: message.observed };
      if (message.type === 'busy') return { type: 'busy', reason: message.reason, retryAfterMs: message.retryAfterMs };
      return undefined;
    }).then((answer) => {
      if (answer.type === 'no-answer') return answer;
      if (answer.value.type === 'busy') return answer.value;
      return { token, cookie: answer.value.cookie, observed: answer.value.observed, answeredAtMs: answer.atMs, rttMs: answer.rttMs };
    });
  }

  /** Registers this socket (RFC 8489 retransmission); the answer must come from the server socket asked. */
  register(policy: RetransmissionPolicy, token: Uint8Array = new Uint8Array(randomBytes(16))): Promise<Registration | undefined> {
    return this.registerOrRefusal(policy, token).then((result) => ('token' in result ? result : undefined));
  }

  /** Asks the server to probe a registered socket; resolves with the ack (accepted or not), BUSY, or undefined if none came. */
  requestProbe(policy: RetransmissionPolicy, registration: Registration, via: ProbeVia, delayMs: number): Promise<{ nonce: Uint8Array; accepted: boolean; atMs: number } | EchoBusy | 'cancelled' | undefined> {
    const nonce = new Uint8Array(randomBytes(8));
    const request = encodeEchoMessage({ type: 'probe-request', token: registration.token, cookie: registration.cookie, via, delayMs, nonce });
    return this.exchange<boolean | EchoBusy>(policy, request, (message) => {
      if (message.type === 'probe-ack' && hex(message.nonce) === hex(nonce)) return message.accepted;
      // BUSY names the request by its token: the registration's, for a probe request.
      if (message.type === 'busy' && hex(message.token) === hex(registration.token)) return { type: 'busy', reason: message.reason, retryAfterMs: message.retryAfterMs };
      return undefined;
    }).then((answer) => {
      if (answer.type === 'no-answer') return answer.cancelled === true ? 'cancelled' : undefined;
      if (typeof answer.value === 'object') return answer.value;
      return { nonce, accepted: answer.value, atMs: answer.atMs };
    });
  }

  /** Waits until `untilMs` for a probe with `nonce`; resolves with its arrival time, or undefined. */
  waitForProbe(nonce: Uint8Array, untilMs: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      const waiter = (message: EchoMessage | { type: 'echo' }): boolean => {
        if (message.type !== 'probe' || hex(message.nonce) !== hex(nonce)) return false;
        cancel();
        this.cancellers.delete(giveUp);
        resolve(this.clock.nowMs());
        return true;
      };
      const giveUp = (): void => {
        cancel();
        this.waiters.delete(waiter);
        this.cancellers.delete(giveUp);
        resolve(undefined);
      };
      this.waiters.add(waiter);
      this.cancellers.add(giveUp);
      const cancel = this.clock.setTimer(Math.max(0, untilMs - this.clock.nowMs()), giveUp);
    });
  }

  /** One plain echo exchange (two-way traffic through the hole); resolves with the reply time or undefined. */
  echo(policy: RetransmissionPolicy): Promise<number | undefined> {
    const payload = new Uint8Array(randomBytes(16));
    return this.exchange(policy, payload, (message, from) =>
      message.type === 'echo' && sameTransportAddress(from, this.server) && hex(message.bytes) === hex(payload) ? true : undefined,
    ).then((answer) => (answer.type === 'answer' ? answer.atMs : undefined));
  }

  /** Ends every pending exchange as unanswered with `error`: evidence found on another socket (a companion's ICMP error). */
  abort(error: { kind: 'send' | 'icmp'; code: string }): void {
    for (const waiter of [...this.errorWaiters]) waiter(error);
  }

  close(): void {
    this.closed = true;
    for (const cancel of [...this.cancellers]) cancel();
    this.cancellers.clear();
    this.waiters.clear();
    this.errorWaiters.clear();
    this.socket.close();
  }

  private exchange<T>(
    policy: RetransmissionPolicy,
    request: Uint8Array,
    match: (message: EchoMessage | { type: 'echo'; bytes: Uint8Array }, from: TransportAddress) => T | undefined,
  ): Promise<{ type: 'answer'; value: T; atMs: number; rttMs: number | undefined } | EchoNoAnswer> {
    if (this.closed) return Promise.resolve({ type: 'no-answer', attempts: 0, cancelled: true });
    return new Promise((resolve) => {
      const waiter = (message: EchoMessage | { type: 'echo'; bytes: Uint8Array }, from: TransportAddress): boolean => {
        const value = match(message, from);
        if (value === undefined) return false;
        const atMs = this.clock.nowMs();
        const outcome = retransmitter.stop(atMs);
        this.errorWaiters.delete(onError);
        this.cancellers.delete(cancel);
        resolve({ type: 'answer', value, atMs, rttMs: outcome.rttMs });
        return true;
      };
      const cancel = (): void => {
        retransmitter.stop();
        this.waiters.delete(waiter);
        this.errorWaiters.delete(onError);
        this.cancellers.delete(cancel);
        resolve({ type: 'no-answer', attempts: retransmitter.attempts, cancelled: true });
      };
      // An ICMP error (connected socket) or a refused send ends the exchange at once: waiting cannot help.
      const onError = (error: { kind: 'send' | 'icmp'; code: string }): void => {
        retransmitter.stop();
        this.waiters.delete(waiter);
        this.errorWaiters.delete(onError);
        this.cancellers.delete(cancel);
        resolve({ type: 'no-answer', attempts: retransmitter.attempts, systemError: error });
      };
      this.waiters.add(waiter);
      this.errorWaiters.add(onError);
      this.cancellers.add(cancel);
      const retransmitter = new Retransmitter(
        this.clock,
        policy,
        () => this.socket.send(request, this.server),
        (attempts) => {
          this.waiters.delete(waiter);
          this.errorWaiters.delete(onError);
          this.cancellers.delete(cancel);
          resolve({ type: 'no-answer', attempts });
        },
      );
    });
  }
}
