import { createSocket, type Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { transportAddress, type TransportAddress } from '../codec/transport-address.js';
import { SocketError } from '../errors.js';
import type { UdpNetwork, UdpSocket, UdpSocketError } from '../probe/ports.js';

/** Binds a node:dgram socket; rejects with SocketError naming the address. */
export function bindUdpSocket(family: 'IPv4' | 'IPv6', address?: string, port = 0): Promise<UdpSocket> {
  const host = address ?? (family === 'IPv6' ? '::' : '0.0.0.0');
  return new Promise((resolve, reject) => {
    const socket: Socket = createSocket({ type: family === 'IPv6' ? 'udp6' : 'udp4', ipv6Only: family === 'IPv6' });
    const onError = (cause: Error): void => {
      socket.close();
      reject(new SocketError(`Cannot bind UDP socket to ${host}:${port}: ${cause.message}`, { cause }));
    };
    socket.once('error', onError);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', onError);
      const bound = socket.address();
      resolve(wrap(socket, transportAddress(bound.address, bound.port)));
    });
  });
}

/**
 * Opens a UDP socket connected to `destination`. Linux reports ICMP port/host unreachable only on connected UDP
 * sockets: node:dgram emits it as an 'error' event (ECONNREFUSED, EHOSTUNREACH; syscall "recvmsg") a moment after
 * the send that caused it. A connect that fails at once (ENETUNREACH: no route) rejects with SocketError.
 */
export function connectUdpSocket(destination: TransportAddress): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket: Socket = createSocket({ type: destination.family === 'IPv6' ? 'udp6' : 'udp4', ipv6Only: destination.family === 'IPv6' });
    const onError = (cause: Error): void => {
      socket.close();
      reject(new SocketError(`Cannot connect a UDP socket to ${destination.address}:${destination.port}: ${cause.message}`, { cause }));
    };
    socket.once('error', onError);
    // Node calls back with the error when the connect fails at once (ENETUNREACH), instead of emitting it.
    socket.connect(destination.port, destination.address, (error?: Error) => {
      if (error !== undefined && error !== null) return onError(error);
      socket.off('error', onError);
      const bound = socket.address();
      resolve(wrap(socket, transportAddress(bound.address, bound.port), destination));
    });
  });
}

function wrap(socket: Socket, local: TransportAddress, connectedTo?: TransportAddress): UdpSocket {
  let closed = false;
  // Errors after bind are evidence (ICMP unreachable, no route), never crashes: kept for whoever listens.
  let errorReceiver: (error: UdpSocketError) => void = () => {};
  const report = (cause: Error | null | undefined, to: TransportAddress | undefined, syscall?: string): void => {
    if (cause === null || cause === undefined || closed) return;
    const code = (cause as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    const icmp = ((cause as NodeJS.ErrnoException).syscall ?? syscall) === 'recvmsg' || (connectedTo !== undefined && code === 'ECONNREFUSED');
    errorReceiver({ code, kind: icmp ? 'icmp' : 'send', ...(to === undefined ? {} : { to }) });
  };
  socket.on('error', (cause) => report(cause, connectedTo));
  return {
    local,
    send(bytes, to) {
      if (closed) return;
      if (connectedTo !== undefined) socket.send(bytes, (error) => report(error, connectedTo, 'send'));
      else socket.send(bytes, to.port, to.address, (error) => report(error, to, 'send'));
    },
    onError(receiver) {
      errorReceiver = receiver;
    },
    onDatagram(receiver) {
      socket.removeAllListeners('message');
      socket.on('message', (message, remote) => {
        let from: TransportAddress;
        try {
          from = transportAddress(remote.address, remote.port);
        } catch {
          return;
        }
        receiver(new Uint8Array(message.buffer, message.byteOffset, message.byteLength), from);
      });
    },
    close() {
      if (closed) return;
      closed = true;
      socket.close();
    },
  };
}

/** The IP addresses of this host's interfaces, scope IDs removed. */
export function localInterfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((info) => info.address.replace(/%.*$/, ''));
}

/** The real network: node:dgram sockets and os.networkInterfaces(). */
export const nodeUdpNetwork: UdpNetwork = {
  bind: bindUdpSocket,
  localAddresses: localInterfaceAddresses,
  routeSourceAddress: (destination) => routeSourceAddress(destination),
  connect: connectUdpSocket,
};

/** The local IP the routing table picks toward `destination` (a connected UDP socket sends nothing). */
export function routeSourceAddress(destination: TransportAddress): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket(destination.family === 'IPv6' ? 'udp6' : 'udp4');
    socket.on('error', () => {
      socket.close();
      resolve(undefined);
    });
    socket.connect(destination.port, destination.address, () => {
      const { address } = socket.address();
      socket.close();
      resolve(address);
    });
  });
}
