import type { ChangeRequest } from '../codec/decode.js';
import type { TransportAddress } from '../codec/transport-address.js';

/**
 * Why a datagram that arrived during a test was not taken as its answer. The first five say the server (or
 * something on its path) answers wrongly; "stray" is traffic from elsewhere, proof only that UDP gets in.
 */
export type RejectionKind = 'wrong-transaction-id' | 'wrong-source' | 'malformed-stun' | 'not-stun' | 'echoed-request' | 'stray';

/** The rejection kinds that come from the server asked and show it answers, but wrongly. */
export const BROKEN_ANSWER_KINDS: readonly RejectionKind[] = ['wrong-transaction-id', 'wrong-source', 'malformed-stun', 'not-stun', 'echoed-request'];

/**
 * How a Binding transaction ended: an answer, an error answer, nothing (RFC 8489 §6.2.1 timeout), an ICMP error
 * (port or host unreachable), a send the system refused (no route), or answers that never matched the request.
 */
export type BindingOutcome = 'response' | 'error-response' | 'timeout' | 'port-unreachable' | 'host-unreachable' | 'send-error' | 'broken-answers';

/** What one Binding transaction of a test saw: what was sent, what came back, and from where. */
export interface BindingObservation {
  /** The test's name, e.g. "mapping test I" (RFC 5780 §4.3). */
  readonly test: string;
  /** The local socket it was sent from. */
  readonly local: TransportAddress;
  readonly destination: TransportAddress;
  readonly changeRequest?: ChangeRequest;
  readonly outcome: BindingOutcome;
  readonly attempts: number;
  readonly elapsedMs: number;
  readonly rttMs?: number;
  /** The transport address the response really came from. */
  readonly responseFrom?: TransportAddress;
  readonly xorMappedAddress?: TransportAddress;
  /** Plain MAPPED-ADDRESS, compared with XOR-MAPPED-ADDRESS to detect ALG rewriting. */
  readonly mappedAddress?: TransportAddress;
  readonly otherAddress?: TransportAddress;
  /** RFC 3489 CHANGED-ADDRESS: RFC 5780 §7.4 says OTHER-ADDRESS is its new name, with the same meaning. */
  readonly changedAddress?: TransportAddress;
  readonly responseOrigin?: TransportAddress;
  readonly errorCode?: number;
  readonly software?: string;
  /** The errno name of an ICMP error or a failed send (outcomes port-unreachable, host-unreachable, send-error). */
  readonly systemError?: string;
  /** Datagrams that arrived during the test and were not its answer, by kind. */
  readonly rejected?: Readonly<Partial<Record<RejectionKind, number>>>;
}

/** RFC 5780 §4.5 hairpinning test: two local sockets send to each other's mapped address. */
export interface HairpinObservation {
  readonly attempts: number;
  /** True when either socket received the other's request through the NAT. */
  readonly received: boolean;
  readonly from?: TransportAddress;
}

/** All the evidence a classification is a pure function of. */
export interface NatEvidence {
  /** IP addresses of this host's interfaces (to tell a NAT from no NAT). */
  readonly localAddresses: readonly string[];
  /** The RFC 5780 server the behaviour tests ran against, if any answered. */
  readonly server?: TransportAddress;
  readonly mappingTestI?: BindingObservation;
  readonly mappingTestII?: BindingObservation;
  readonly mappingTestIII?: BindingObservation;
  readonly filteringTestII?: BindingObservation;
  readonly filteringTestIII?: BindingObservation;
  readonly hairpinning?: HairpinObservation;
  /** Test I from fresh sockets, in the order their first requests were sent (port allocation, RFC 4787 §4.1). */
  readonly allocationSamples?: readonly BindingObservation[];
  /** Test I to other servers from the mapping socket: mapping by comparison when there is no OTHER-ADDRESS. */
  readonly comparisons?: readonly BindingObservation[];
  /** Servers tried that never answered. */
  readonly unreachable?: readonly TransportAddress[];
  /** Test I to every candidate server, as each first contact ended (the reasons when none answered). */
  readonly firstContacts?: readonly BindingObservation[];
}
