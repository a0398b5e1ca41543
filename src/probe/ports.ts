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
  close(): void;
}

/** Opens UDP sockets and knows this host's addresses. */
export interface UdpNetwork {
  /** Binds a fresh socket on `address` (default: the wildcard of `family`) and `port` (default: any). */
  bind(family: 'IPv4' | 'IPv6', address?: string, port?: number): Promise<UdpSocket>;
  /** The IP addresses of this host's interfaces. */
  localAddresses(): readonly string[];
  /** The local IP that routing picks toward `destination`, when the platform can tell. */
  routeSourceAddress?(destination: TransportAddress): Promise<string | undefined>;
}
