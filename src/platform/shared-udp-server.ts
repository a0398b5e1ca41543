import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { TransportAddress } from '../codec/transport-address.js';
import { SocketError } from '../errors.js';
import type { Clock } from '../probe/ports.js';
import { socketKeyIndex, type DatagramServerProtocol } from './udp-server.js';

/** A server whose sockets may be shared by cluster workers. */
export interface SharedUdpServer {
  readonly addresses: readonly TransportAddress[];
  close(): Promise<void>;
}

/**
 * Binds a protocol's sockets with node:dgram directly and carries its actions out on the hot path: the source
 * goes in as dgram's own RemoteInfo (already an "ip, port, family" record), the answering socket is found by the
 * identity of the protocol's socket key. Not exclusive: in a `node:cluster` worker the primary binds once and every
 * worker reads the same sockets (Node 20's dgram has no SO_REUSEPORT). Nothing a datagram holds can throw out of here.
 */
export async function runSharedUdpServer<K>(
  protocol: DatagramServerProtocol<K>,
  clock: Clock,
  onError: (error: Error) => void = () => {},
): Promise<SharedUdpServer> {
  const entries = protocol.sockets();
  const indexOf = socketKeyIndex(entries.map((entry) => entry.key));
  // In the order of `entries`, so an index from `indexOf` names the socket.
  const sockets: Socket[] = [];
  const keyOf = (key: K): Socket | undefined => {
    const index = indexOf(key);
    return index === undefined ? undefined : sockets[index];
  };
  try {
    for (const { key, local } of entries) {
      const socket = createSocket({ type: local.family === 'IPv6' ? 'udp6' : 'udp4', ipv6Only: local.family === 'IPv6' });
      await new Promise<void>((resolve, reject) => {
        const onBindError = (cause: Error): void => {
          socket.close();
          reject(new SocketError(`Cannot bind UDP socket to ${local.address}:${local.port}: ${cause.message}`, { cause }));
        };
        socket.once('error', onBindError);
        socket.bind({ address: local.address, port: local.port, exclusive: false }, () => {
          socket.off('error', onBindError);
          resolve();
        });
      });
      // After bind, errors (ICMP port unreachable on Linux, for one) are lost packets, not crashes.
      socket.on('error', () => {});
      sockets.push(socket);
      socket.on('message', (message: Buffer, remote: RemoteInfo) => {
        try {
          const actions = protocol.handleDatagram(clock.nowMs(), message, remote as unknown as TransportAddress, key);
          for (const action of Array.isArray(actions) ? actions : [actions]) {
            if (action.type !== 'send') continue;
            keyOf(action.via)?.send(action.bytes, action.to.port, action.to.address);
          }
        } catch (error) {
          onError(error as Error);
        }
      });
    }
  } catch (error) {
    for (const s of sockets) s.close();
    throw error;
  }
  return {
    addresses: sockets.map((s) => {
      const a = s.address();
      return { family: a.family === 'IPv6' ? 'IPv6' : 'IPv4', address: a.address, port: a.port };
    }),
    close: async () => {
      await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
