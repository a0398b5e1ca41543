import { MessageType } from '../codec/constants.js';
import { decodeStunMessage, looksLikeStun, type ChangeRequest, type StunMessage } from '../codec/decode.js';
import { createTransactionId, encodeBindingRequest } from '../codec/encode.js';
import { sameTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import { BROKEN_ANSWER_KINDS, type BindingObservation, type RejectionKind } from '../diagnose/evidence.js';
import type { RetransmissionPolicy } from '../protocol/transaction.js';
import type { Clock, UdpSocket, UdpSocketError } from './ports.js';
import { Retransmitter } from './retransmitter.js';

/** One Binding test to run. */
export interface BindingTest {
  readonly test: string;
  readonly destination: TransportAddress;
  readonly changeRequest?: ChangeRequest;
  readonly policy: RetransmissionPolicy;
  /**
   * Where a response may come from: the destination by default; 'any' for CHANGE-REQUEST tests, whose
   * answers come from elsewhere by design (the classifier checks the real source against OTHER-ADDRESS).
   */
  readonly acceptFrom?: 'destination' | 'any';
  /** Called after each request is sent (attempt 1 is the first), for a progress display. */
  readonly onAttempt?: (attempt: number) => void;
}

interface Pending {
  readonly test: BindingTest;
  retransmitter?: Retransmitter;
  readonly rejected: Partial<Record<RejectionKind, number>>;
  readonly resolve: (observation: BindingObservation) => void;
}

/**
 * After this many answers from the asked server that do not match the request, the pattern is clear: the server
 * (or something rewriting its replies) is broken, and waiting out the RFC 8489 schedule would only hide it.
 */
export const BROKEN_ANSWERS_TO_GIVE_UP = 3;

/** Transaction IDs remembered after their test ended, so a late duplicate answer is not called a wrong one. */
const FINISHED_IDS_KEPT = 64;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

const hasMagicCookie = (bytes: Uint8Array): boolean =>
  bytes.length >= 20 && ((bytes[0] ?? 0xff) & 0xc0) === 0 && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32BE(4) === 0x2112a442;

/**
 * Runs STUN Binding transactions over one socket: matches responses by transaction ID, keeps the
 * address each came from, ignores strays, malformed datagrams and answers from the wrong source.
 */
export class StunClient {
  private readonly pending = new Map<string, Pending>();
  private readonly requestListeners = new Set<(request: StunMessage, from: TransportAddress) => void>();
  private readonly finishedIds: string[] = [];
  private closed = false;

  constructor(
    readonly socket: UdpSocket,
    private readonly clock: Clock,
  ) {
    socket.onDatagram((bytes, from) => this.receive(bytes, from));
    socket.onError?.((error) => this.systemError(error));
  }

  /** Runs one test to its end; a lost test resolves with outcome "timeout" (evidence, not an error). */
  binding(test: BindingTest, transactionId: Uint8Array = createTransactionId()): Promise<BindingObservation> {
    const request = encodeBindingRequest({ transactionId, ...(test.changeRequest === undefined ? {} : { changeRequest: test.changeRequest }) });
    return this.run(test, transactionId, request);
  }

  /** Ends a pending test early as answered: the hairpin test's requests are "answered" by their arrival elsewhere. */
  complete(transactionId: Uint8Array, from: TransportAddress): void {
    this.finish(hex(transactionId), { outcome: 'response', responseFrom: from });
  }

  /** Stops a pending test that is no longer needed; it resolves as a timeout. */
  cancel(transactionId: Uint8Array): void {
    this.finish(hex(transactionId), { outcome: 'timeout' });
  }

  /** Ends a pending test with evidence found elsewhere (an ICMP error on a companion socket). */
  fail(transactionId: Uint8Array, outcome: 'port-unreachable' | 'host-unreachable' | 'send-error', systemError: string): void {
    this.finish(hex(transactionId), { outcome, systemError });
  }

  /** Listens for Binding requests arriving on this socket (the hairpin test's other half). */
  onRequest(listener: (request: StunMessage, from: TransportAddress) => void): () => void {
    this.requestListeners.add(listener);
    return () => this.requestListeners.delete(listener);
  }

  /** Ends every pending test and closes the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const key of [...this.pending.keys()]) this.finish(key, { outcome: 'timeout' });
    this.socket.close();
  }

  private run(test: BindingTest, transactionId: Uint8Array, request: Uint8Array): Promise<BindingObservation> {
    return new Promise((resolve) => {
      const key = hex(transactionId);
      const pending: Pending = { test, resolve, rejected: {} };
      this.pending.set(key, pending);
      let sent = 0;
      pending.retransmitter = new Retransmitter(
        this.clock,
        test.policy,
        () => {
          this.socket.send(request, test.destination);
          sent += 1;
          test.onAttempt?.(sent);
        },
        () => this.finish(key, { outcome: 'timeout' }),
      );
    });
  }

  private receive(bytes: Uint8Array, from: TransportAddress): void {
    // With the magic cookie but a bad length it is broken STUN; without it, not STUN at all (RFC 8489 §5).
    if (!looksLikeStun(bytes)) return this.reject(hasMagicCookie(bytes) ? 'malformed-stun' : 'not-stun', from);
    let message: StunMessage;
    try {
      message = decodeStunMessage(bytes);
    } catch {
      return this.reject('malformed-stun', from); // RFC 8489 §6.3: discarded, but counted as evidence
    }
    const key = hex(message.transactionId);
    const pending = this.pending.get(key);
    if (message.messageType === MessageType.BINDING_REQUEST) {
      // Our own request coming back: an echo server (or a reflector) answers, not a STUN server.
      if (pending !== undefined) return this.rejectFor(pending, key, 'echoed-request');
      for (const listener of this.requestListeners) listener(message, from);
      return;
    }
    const isResponse = message.messageType === MessageType.BINDING_SUCCESS_RESPONSE || message.messageType === MessageType.BINDING_ERROR_RESPONSE;
    if (!isResponse) return this.reject('stray', from);
    if (pending === undefined) {
      if (this.finishedIds.includes(key)) return; // a late duplicate of an answered request: RFC 8489 §6.3.1 ignores it
      return this.reject('wrong-transaction-id', from);
    }
    if ((pending.test.acceptFrom ?? 'destination') === 'destination' && !sameTransportAddress(from, pending.test.destination)) {
      return this.rejectFor(pending, key, 'wrong-source');
    }
    if (message.messageType === MessageType.BINDING_ERROR_RESPONSE) {
      this.finish(key, { outcome: 'error-response', responseFrom: from, ...(message.errorCode === undefined ? {} : { errorCode: message.errorCode.code }), ...addresses(message) });
      return;
    }
    this.finish(key, { outcome: 'response', responseFrom: from, ...addresses(message) });
  }

  /** A datagram that answers no request: charged to the tests sent to where it came from, else a stray for all. */
  private reject(kind: RejectionKind, from: TransportAddress): void {
    const asked = [...this.pending].filter(([, p]) => sameTransportAddress(p.test.destination, from));
    if (asked.length === 0) {
      for (const p of this.pending.values()) p.rejected.stray = (p.rejected.stray ?? 0) + 1;
      return;
    }
    for (const [key, p] of asked) this.rejectFor(p, key, kind);
  }

  private rejectFor(pending: Pending, key: string, kind: RejectionKind): void {
    pending.rejected[kind] = (pending.rejected[kind] ?? 0) + 1;
    const broken = BROKEN_ANSWER_KINDS.reduce((sum, k) => sum + (pending.rejected[k] ?? 0), 0);
    // Our own request sent back, or no STUN at all, twice: no STUN server will answer there.
    const notStun = (pending.rejected['echoed-request'] ?? 0) + (pending.rejected['not-stun'] ?? 0);
    if (broken >= BROKEN_ANSWERS_TO_GIVE_UP || notStun >= 2) this.finish(key, { outcome: 'broken-answers' });
  }

  /** The system's word on a datagram: no route (at once), or an ICMP error on a connected socket. */
  private systemError(error: UdpSocketError): void {
    const outcome =
      error.kind === 'icmp' && error.code === 'ECONNREFUSED'
        ? 'port-unreachable'
        : error.kind === 'icmp' && (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH')
          ? 'host-unreachable'
          : 'send-error';
    for (const [key, p] of [...this.pending]) {
      if (error.to === undefined || sameTransportAddress(p.test.destination, error.to)) this.finish(key, { outcome, systemError: error.code });
    }
  }

  private finish(key: string, result: Partial<BindingObservation> & Pick<BindingObservation, 'outcome'>): void {
    const pending = this.pending.get(key);
    if (pending === undefined) return;
    this.pending.delete(key);
    this.finishedIds.push(key);
    if (this.finishedIds.length > FINISHED_IDS_KEPT) this.finishedIds.shift();
    const now = this.clock.nowMs();
    const retransmitter = pending.retransmitter!;
    // One reading of the clock for both, so the round trip never exceeds the elapsed time.
    const stopped = retransmitter.stop(now);
    const outcome = result.outcome === 'response' || result.outcome === 'error-response' ? stopped : undefined;
    const rejected = Object.keys(pending.rejected).length === 0 ? {} : { rejected: { ...pending.rejected } };
    const observation: BindingObservation = {
      test: pending.test.test,
      local: this.socket.local,
      destination: pending.test.destination,
      ...(pending.test.changeRequest === undefined ? {} : { changeRequest: pending.test.changeRequest }),
      attempts: retransmitter.attempts,
      elapsedMs: now - retransmitter.startMs,
      ...(outcome?.rttMs === undefined ? {} : { rttMs: outcome.rttMs }),
      ...rejected,
      ...result,
    };
    pending.resolve(observation);
  }
}

function addresses(message: StunMessage): Partial<BindingObservation> {
  const { xorMappedAddress, mappedAddress, otherAddress, changedAddress, responseOrigin, software } = message;
  return {
    ...(xorMappedAddress === undefined ? {} : { xorMappedAddress }),
    ...(mappedAddress === undefined ? {} : { mappedAddress }),
    ...(otherAddress === undefined ? {} : { otherAddress }),
    ...(changedAddress === undefined ? {} : { changedAddress }),
    ...(responseOrigin === undefined ? {} : { responseOrigin }),
    ...(software === undefined ? {} : { software }),
  };
}
