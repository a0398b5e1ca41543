import { MessageType } from '../codec/constants.js';
import { decodeStunMessage, looksLikeStun, type ChangeRequest, type StunMessage } from '../codec/decode.js';
import { createTransactionId, encodeBindingRequest } from '../codec/encode.js';
import { sameTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import type { BindingObservation } from '../diagnose/evidence.js';
import type { RetransmissionPolicy } from '../protocol/transaction.js';
import type { Clock, UdpSocket } from './ports.js';
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
}

interface Pending {
  readonly test: BindingTest;
  retransmitter?: Retransmitter;
  readonly resolve: (observation: BindingObservation) => void;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * Runs STUN Binding transactions over one socket: matches responses by transaction ID, keeps the
 * address each came from, ignores strays, malformed datagrams and answers from the wrong source.
 */
export class StunClient {
  private readonly pending = new Map<string, Pending>();
  private readonly requestListeners = new Set<(request: StunMessage, from: TransportAddress) => void>();
  private closed = false;

  constructor(
    readonly socket: UdpSocket,
    private readonly clock: Clock,
  ) {
    socket.onDatagram((bytes, from) => this.receive(bytes, from));
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
      const pending: Pending = { test, resolve };
      this.pending.set(key, pending);
      pending.retransmitter = new Retransmitter(
        this.clock,
        test.policy,
        () => this.socket.send(request, test.destination),
        () => this.finish(key, { outcome: 'timeout' }),
      );
    });
  }

  private receive(bytes: Uint8Array, from: TransportAddress): void {
    if (!looksLikeStun(bytes)) return;
    let message: StunMessage;
    try {
      message = decodeStunMessage(bytes);
    } catch {
      return; // malformed: ignored (RFC 8489 §6.3)
    }
    if (message.messageType === MessageType.BINDING_REQUEST) {
      for (const listener of this.requestListeners) listener(message, from);
      return;
    }
    const isResponse = message.messageType === MessageType.BINDING_SUCCESS_RESPONSE || message.messageType === MessageType.BINDING_ERROR_RESPONSE;
    if (!isResponse) return;
    const key = hex(message.transactionId);
    const pending = this.pending.get(key);
    if (pending === undefined) return; // stray or late
    if ((pending.test.acceptFrom ?? 'destination') === 'destination' && !sameTransportAddress(from, pending.test.destination)) return;
    if (message.messageType === MessageType.BINDING_ERROR_RESPONSE) {
      this.finish(key, { outcome: 'error-response', responseFrom: from, ...(message.errorCode === undefined ? {} : { errorCode: message.errorCode.code }), ...addresses(message) });
      return;
    }
    this.finish(key, { outcome: 'response', responseFrom: from, ...addresses(message) });
  }

  private finish(key: string, result: Partial<BindingObservation> & Pick<BindingObservation, 'outcome'>): void {
    const pending = this.pending.get(key);
    if (pending === undefined) return;
    this.pending.delete(key);
    const now = this.clock.nowMs();
    const retransmitter = pending.retransmitter!;
    const stopped = retransmitter.stop();
    const outcome = result.outcome === 'timeout' ? undefined : stopped;
    const observation: BindingObservation = {
      test: pending.test.test,
      local: this.socket.local,
      destination: pending.test.destination,
      ...(pending.test.changeRequest === undefined ? {} : { changeRequest: pending.test.changeRequest }),
      attempts: retransmitter.attempts,
      elapsedMs: now - retransmitter.startMs,
      ...(outcome?.rttMs === undefined ? {} : { rttMs: outcome.rttMs }),
      ...result,
    };
    pending.resolve(observation);
  }
}

function addresses(message: StunMessage): Partial<BindingObservation> {
  const { xorMappedAddress, mappedAddress, otherAddress, responseOrigin, software } = message;
  return {
    ...(xorMappedAddress === undefined ? {} : { xorMappedAddress }),
    ...(mappedAddress === undefined ? {} : { mappedAddress }),
    ...(otherAddress === undefined ? {} : { otherAddress }),
    ...(responseOrigin === undefined ? {} : { responseOrigin }),
    ...(software === undefined ? {} : { software }),
  };
}
