import type { TransportAddress } from '../codec/transport-address.js';

/** The clock the probes run on: the system clock at the edge, a fake one in tests. */
export interface Clock {
  nowMs(): number;
  /** Calls `callback` after `delayMs`; returns a function that cancels it. */
  setTimer(delayMs: number, callback: () => void): () => void;
}

/** One bound UDP socket. */
export interface UdpSocket {
  readonly local: TransportAddress;
  send(bytes: Uint8Array, to: TransportAddress): void;
  /** Registers the one receiver of datagrams arriving on this socket. */
  onDatagram(receiver: (bytes: Uint8Array, from: TransportAddress) => void): void;
  /**
   * Registers the one receiver of errors the system reports for this socket: a send that failed at once (no route:
   * ENETUNREACH, EHOSTUNREACH) or, on a connected socket, an ICMP error for an earlier datagram (Linux reports
   * ICMP port/host unreachable only on connected UDP sockets, as ECONNREFUSED/EHOSTUNREACH on the next receive).
   */
  onError?(receiver: (error: UdpSocketError) => void): void;
  close(): void;
}

/** An error the system reported for a UDP socket. */
export interface UdpSocketError {
  /** The errno name: ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EACCES, ... */
  readonly code: string;
  /** 'send': the send itself failed; 'icmp': an ICMP error came back for an earlier datagram (connected sockets). */
  readonly kind: 'send' | 'icmp';
  /** Where the failed datagram was going, when known. */
  readonly to?: TransportAddress;
}

/** Opens UDP sockets and knows this host's addresses. */
export interface UdpNetwork {
  /** Binds a fresh socket on `address` (default: the wildcard of `family`) and `port` (default: any). */
  bind(family: 'IPv4' | 'IPv6', address?: string, port?: number): Promise<UdpSocket>;
  /** The IP addresses of this host's interfaces. */
  localAddresses(): readonly string[];
  /** The local IP that routing picks toward `destination`, when the platform can tell. */
  routeSourceAddress?(destination: TransportAddress): Promise<string | undefined>;
  /**
   * Opens a socket connected to `destination` (it sends only there and hears only from there), so that the system
   * reports ICMP errors for it through `onError`; absent where the platform cannot tell.
   */
  connect?(destination: TransportAddress): Promise<UdpSocket>;
}
