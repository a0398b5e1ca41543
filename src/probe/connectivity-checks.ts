import { MessageType } from '../codec/constants.js';
import { decodeStunMessage, looksLikeStun, verifyMessageIntegrity, type StunMessage } from '../codec/decode.js';
import { createTransactionId, encodeBindingRequest, encodeBindingSuccessResponse } from '../codec/encode.js';
import { formatTransportAddress, sameTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import type { Clock, UdpSocket } from './ports.js';

/** The kinds of candidate natscope reports (RFC 8445 §5.1.1 names, plus natscope's two guesses). */
export type CandidateKind = 'host' | 'server-reflexive' | 'peer-reflexive' | 'predicted' | 'birthday';

/** Short-term credentials of the checks (RFC 8445 §7.2.2): USERNAME is "remote-ufrag:local-ufrag". */
export interface CheckCredentials {
  readonly localUfrag: string;
  readonly remoteUfrag: string;
  readonly key: Uint8Array;
}

/** A pair both of whose directions are confirmed. */
export interface ConfirmedPair {
  readonly socket: UdpSocket;
  readonly remote: TransportAddress;
  readonly remoteKind: CandidateKind;
  /** This side's address as the peer saw it (XOR-MAPPED-ADDRESS of the peer's success response). */
  readonly localMapped: TransportAddress;
  readonly confirmedAtMs: number;
}

interface PairState {
  readonly socket: UdpSocket;
  readonly remote: TransportAddress;
  kind: CandidateKind;
  /** A success response with valid MESSAGE-INTEGRITY came from `remote` to a check sent there (RFC 8445 §7.2.5.3). */
  localMapped?: TransportAddress;
  /** A valid check came from `remote` and was answered (RFC 8445 §7.3.1). */
  answered: boolean;
  lastTriggeredMs: number;
}

interface Transaction {
  readonly pair: PairState;
  readonly sentAtMs: number;
  readonly onResponse?: (rttMs: number) => void;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const MAX_TRANSACTIONS = 20_000;
const TRIGGERED_CHECK_GAP_MS = 50;

/**
 * Connectivity checks between the two peers (RFC 8445 §7.2): Binding requests with USERNAME and
 * MESSAGE-INTEGRITY from the room's key, answered only when both verify. A pair is confirmed only when
 * both directions are: this side got a valid success response from the address it checked, and answered a
 * valid check from that same address. A stray or spoofed datagram, without the key, can do neither.
 */
export class ConnectivityChecker {
  private readonly pairs = new Map<string, PairState>();
  private readonly transactions = new Map<string, Transaction>();
  private confirmed: ConfirmedPair | undefined;
  private readonly listeners = new Set<(pair: ConfirmedPair) => void>();
  /** Binding requests sent (checks, triggered checks and measurement checks). */
  checksSent = 0;
  /** Datagrams that failed the checks (wrong key, wrong username, unknown transaction, wrong source). */
  rejected = 0;

  constructor(
    private readonly clock: Clock,
    private readonly credentials: CheckCredentials,
  ) {}

  /** Sends one check from `socket` to `remote`, remembered as a candidate of `kind`. */
  check(socket: UdpSocket, remote: TransportAddress, kind: CandidateKind, onResponse?: (rttMs: number) => void): void {
    const pair = this.pair(socket, remote, kind);
    const transactionId = createTransactionId();
    if (this.transactions.size >= MAX_TRANSACTIONS) this.transactions.delete(this.transactions.keys().next().value!);
    this.transactions.set(hex(transactionId), { pair, sentAtMs: this.clock.nowMs(), ...(onResponse === undefined ? {} : { onResponse }) });
    this.checksSent += 1;
    socket.send(
      encodeBindingRequest({ transactionId, username: `${this.credentials.remoteUfrag}:${this.credentials.localUfrag}`, integrityKey: this.credentials.key }),
      remote,
    );
  }

  /** Calls `listener` once when the first pair is confirmed (at once if one already is). */
  onConfirmed(listener: (pair: ConfirmedPair) => void): () => void {
    if (this.confirmed !== undefined) {
      listener(this.confirmed);
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The first confirmed pair, if any. */
  get confirmedPair(): ConfirmedPair | undefined {
    return this.confirmed;
  }

  /** Hands in a datagram that arrived on `socket`; true when it was STUN (handled or rejected). */
  receive(socket: UdpSocket, bytes: Uint8Array, from: TransportAddress): boolean {
    if (!looksLikeStun(bytes)) return false;
    let message: StunMessage;
    try {
      message = decodeStunMessage(bytes);
    } catch {
      this.rejected += 1;
      return true;
    }
    if (!verifyMessageIntegrity(bytes, this.credentials.key)) {
      this.rejected += 1;
      return true;
    }
    if (message.messageType === MessageType.BINDING_REQUEST) this.answer(socket, message, from);
    else if (message.messageType === MessageType.BINDING_SUCCESS_RESPONSE) this.accept(socket, message, from);
    else this.rejected += 1;
    return true;
  }

  private answer(socket: UdpSocket, request: StunMessage, from: TransportAddress): void {
    // RFC 8445 §7.3.1.2 / RFC 8489 §9.1.3: USERNAME must be "our-ufrag:their-ufrag".
    if (request.username !== `${this.credentials.localUfrag}:${this.credentials.remoteUfrag}`) {
      this.rejected += 1;
      return;
    }
    socket.send(encodeBindingSuccessResponse({ transactionId: request.transactionId, xorMappedAddress: from, integrityKey: this.credentials.key }), from);
    // RFC 8445 §7.3.1.3: a check from an address we did not know makes a peer-reflexive candidate.
    const pair = this.pair(socket, from, 'peer-reflexive');
    pair.answered = true;
    // RFC 8445 §7.3.1.4: a triggered check back, so this direction is confirmed too.
    const now = this.clock.nowMs();
    if (pair.localMapped === undefined && now - pair.lastTriggeredMs >= TRIGGERED_CHECK_GAP_MS) {
      pair.lastTriggeredMs = now;
      this.check(socket, from, pair.kind);
    }
    this.maybeConfirm(pair);
  }

  private accept(socket: UdpSocket, response: StunMessage, from: TransportAddress): void {
    const transaction = this.transactions.get(hex(response.transactionId));
    // RFC 8445 §7.2.5.2.1: the response must come from where the request went, to the socket it left from.
    if (transaction === undefined || transaction.pair.socket !== socket || !sameTransportAddress(from, transaction.pair.remote) || response.xorMappedAddress === undefined) {
      this.rejected += 1;
      return;
    }
    transaction.onResponse?.(this.clock.nowMs() - transaction.sentAtMs);
    transaction.pair.localMapped ??= response.xorMappedAddress;
    this.maybeConfirm(transaction.pair);
  }

  private maybeConfirm(pair: PairState): void {
    if (this.confirmed !== undefined || !pair.answered || pair.localMapped === undefined) return;
    this.confirmed = { socket: pair.socket, remote: pair.remote, remoteKind: pair.kind, localMapped: pair.localMapped, confirmedAtMs: this.clock.nowMs() };
    for (const listener of [...this.listeners]) listener(this.confirmed);
    this.listeners.clear();
  }

  private pair(socket: UdpSocket, remote: TransportAddress, kind: CandidateKind): PairState {
    const id = `${formatTransportAddress(socket.local)}|${formatTransportAddress(remote)}|${this.socketIndex(socket)}`;
    let pair = this.pairs.get(id);
    if (pair === undefined) {
      pair = { socket, remote, kind, answered: false, lastTriggeredMs: -Infinity };
      this.pairs.set(id, pair);
    }
    return pair;
  }

  private readonly socketIds = new Map<UdpSocket, number>();
  private socketIndex(socket: UdpSocket): number {
    let id = this.socketIds.get(socket);
    if (id === undefined) {
      id = this.socketIds.size;
      this.socketIds.set(socket, id);
    }
    return id;
  }
}
