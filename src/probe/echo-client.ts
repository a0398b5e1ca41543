import { randomBytes } from 'node:crypto';
import { sameTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import { decodeEchoMessage, encodeEchoMessage, isEchoControl, type EchoMessage, type ProbeVia } from '../protocol/echo-messages.js';
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

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Speaks the echo server's protocol over one socket; only datagrams from the server's own sockets count. */
export class EchoClient {
  private readonly waiters = new Set<(message: EchoMessage | { type: 'echo'; bytes: Uint8Array }, from: TransportAddress) => boolean>();

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
  }

  /** Registers this socket (RFC 8489 retransmission); the answer must come from the server socket asked. */
  register(policy: RetransmissionPolicy, token: Uint8Array = new Uint8Array(randomBytes(16))): Promise<Registration | undefined> {
    const request = encodeEchoMessage({ type: 'register', token });
    return this.exchange(policy, request, (message, from) =>
      message.type === 'registered' && hex(message.token) === hex(token) && sameTransportAddress(from, this.server)
        ? { cookie: message.cookie, observed: message.observed }
        : undefined,
    ).then((answer) =>
      answer === undefined ? undefined : { token, cookie: answer.value.cookie, observed: answer.value.observed, answeredAtMs: answer.atMs, rttMs: answer.rttMs },
    );
  }

  /** Asks the server to probe a registered socket; resolves with the ack (accepted or not), undefined if none came. */
  requestProbe(policy: RetransmissionPolicy, registration: Registration, via: ProbeVia, delayMs: number): Promise<{ nonce: Uint8Array; accepted: boolean; atMs: number } | undefined> {
    const nonce = new Uint8Array(randomBytes(8));
    const request = encodeEchoMessage({ type: 'probe-request', token: registration.token, cookie: registration.cookie, via, delayMs, nonce });
    return this.exchange(policy, request, (message) =>
      message.type === 'probe-ack' && hex(message.nonce) === hex(nonce) ? message.accepted : undefined,
    ).then((answer) => (answer === undefined ? undefined : { nonce, accepted: answer.value, atMs: answer.atMs }));
  }

  /** Waits until `untilMs` for a probe with `nonce`; resolves with its arrival time, or undefined. */
  waitForProbe(nonce: Uint8Array, untilMs: number): Promise<number | undefined> {
    return new Promise((resolve) => {
      const waiter = (message: EchoMessage | { type: 'echo' }): boolean => {
        if (message.type !== 'probe' || hex(message.nonce) !== hex(nonce)) return false;
        cancel();
        resolve(this.clock.nowMs());
        return true;
      };
      this.waiters.add(waiter);
      const cancel = this.clock.setTimer(Math.max(0, untilMs - this.clock.nowMs()), () => {
        this.waiters.delete(waiter);
        resolve(undefined);
      });
    });
  }

  /** One plain echo exchange (two-way traffic through the hole); resolves with the reply time or undefined. */
  echo(policy: RetransmissionPolicy): Promise<number | undefined> {
    const payload = new Uint8Array(randomBytes(16));
    return this.exchange(policy, payload, (message, from) =>
      message.type === 'echo' && sameTransportAddress(from, this.server) && hex(message.bytes) === hex(payload) ? true : undefined,
    ).then((answer) => answer?.atMs);
  }

  close(): void {
    this.waiters.clear();
    this.socket.close();
  }

  private exchange<T>(
    policy: RetransmissionPolicy,
    request: Uint8Array,
    match: (message: EchoMessage | { type: 'echo'; bytes: Uint8Array }, from: TransportAddress) => T | undefined,
  ): Promise<{ value: T; atMs: number; rttMs: number | undefined } | undefined> {
    return new Promise((resolve) => {
      const waiter = (message: EchoMessage | { type: 'echo'; bytes: Uint8Array }, from: TransportAddress): boolean => {
        const value = match(message, from);
        if (value === undefined) return false;
        const outcome = retransmitter.stop();
        resolve({ value, atMs: this.clock.nowMs(), rttMs: outcome.rttMs });
        return true;
      };
      this.waiters.add(waiter);
      const retransmitter = new Retransmitter(
        this.clock,
        policy,
        () => this.socket.send(request, this.server),
        () => {
          this.waiters.delete(waiter);
          resolve(undefined);
        },
      );
    });
  }
}
