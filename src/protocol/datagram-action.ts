import type { TransportAddress } from '../codec/transport-address.js';

/** What a Sans-IO datagram server asks the socket layer to do: send from one of its sockets, or nothing (and why). */
export type DatagramAction<K> =
  | { readonly type: 'send'; readonly via: K; readonly to: TransportAddress; readonly bytes: Uint8Array }
  | { readonly type: 'ignore'; readonly reason: string; readonly detail?: string };
