import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { decodeStunMessage } from '../../src/codec/decode.js';
import { encodeBindingSuccessResponse } from '../../src/codec/encode.js';
import { transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import type { Clock, UdpNetwork, UdpSocket } from '../../src/probe/ports.js';

/** Where a hostile reply leaves from, relative to the socket that got the request. */
export type ReplySource = 'same' | 'other-port' | 'other-ip';

/** One datagram a hostile server sends back. */
export interface HostileReply {
  readonly bytes: Uint8Array;
  readonly from?: ReplySource;
}

/** A way of answering a Binding request wrongly: a pure function of the request and who sent it. */
export type HostileBehaviour = (request: Uint8Array, from: TransportAddress) => HostileReply[];

const response = (request: Uint8Array, xorMappedAddress: TransportAddress, transactionId?: Uint8Array): Uint8Array =>
  encodeBindingSuccessResponse({ transactionId: transactionId ?? decodeStunMessage(request).transactionId, xorMappedAddress });

/** A success response whose XOR-MAPPED-ADDRESS has an unknown family (0x07): it cannot be decoded. */
function malformedAddressResponse(request: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(20 + 12);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 0x0101);
  view.setUint16(2, 12);
  bytes.set(request.subarray(4, 20), 4);
  view.setUint16(20, 0x0020);
  view.setUint16(22, 8);
  view.setUint8(25, 0x07);
  return bytes;
}

/** The hostile servers of issue 11, by name. */
export const HOSTILE_BEHAVIOURS: Readonly<Record<string, HostileBehaviour>> = {
  'other-family': (request, from) => [{ bytes: response(request, transportAddress('2001:db8::1', from.port)) }],
  'port-zero': (request, from) => [{ bytes: response(request, { ...from, port: 0 }) }],
  unspecified: (request, from) => [{ bytes: response(request, transportAddress('0.0.0.0', from.port)) }],
  multicast: (request, from) => [{ bytes: response(request, transportAddress('224.0.0.1', from.port)) }],
  'wrong-transaction-id': (request, from) => [{ bytes: response(request, from, new Uint8Array(randomBytes(12))) }],
  'other-port': (request, from) => [{ bytes: response(request, from), from: 'other-port' }],
  'other-ip': (request, from) => [{ bytes: response(request, from), from: 'other-ip' }],
  'malformed-address': (request) => [{ bytes: malformedAddressResponse(request) }],
  'stray-flood': (request, from) => Array.from({ length: 50 }, () => ({ bytes: response(request, from, new Uint8Array(randomBytes(12))) })),
  'not-stun': () => [{ bytes: new TextEncoder().encode('hello, I am not a STUN server') }],
  echo: (request) => [{ bytes: Uint8Array.from(request) }],
};

/** Not hostile, only old: like jstun, it answers a Binding request only when it carries a CHANGE-REQUEST. */
export const answersOnlyWithChangeRequest: HostileBehaviour = (request, from) =>
  decodeStunMessage(request).changeRequest === undefined ? [] : [{ bytes: response(request, from) }];

/**
 * An in-memory network on a fake clock with one hostile STUN server at `server`: the client's datagrams to it are
 * answered by `behaviour` after 1 ms; "other-port" replies come from port + 1, "other-ip" ones from `otherIp`.
 */
export function hostileNetwork(clock: Clock, behaviour: HostileBehaviour, server: TransportAddress, clientIp: string, otherIp: string): UdpNetwork {
  let nextPort = 40000;
  return {
    localAddresses: () => [clientIp],
    bind: async () => {
      const local = transportAddress(clientIp, nextPort++);
      let receiver: (bytes: Uint8Array, from: TransportAddress) => void = () => {};
      let closed = false;
      const socket: UdpSocket = {
        local,
        send: (bytes, to) => {
          if (closed || to.address !== server.address || to.port !== server.port) return;
          for (const reply of behaviour(Uint8Array.from(bytes), local)) {
            const source = reply.from === 'other-port' ? { ...server, port: server.port + 1 } : reply.from === 'other-ip' ? transportAddress(otherIp, server.port) : server;
            clock.setTimer(1, () => {
              if (!closed) receiver(reply.bytes, source);
            });
          }
        },
        onDatagram: (r) => {
          receiver = r;
        },
        close: () => {
          closed = true;
        },
      };
      return socket;
    },
  };
}

/** A hostile server on real loopback sockets: 127.0.0.1:P, 127.0.0.1:P+1 (other port) and 127.0.0.2:P (other IP). */
export async function startHostileStunServer(behaviour: HostileBehaviour): Promise<{ port: number; close: () => void }> {
  const bind = (address: string, port: number): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind(port, address, () => resolve(socket));
    });
  for (let tries = 0; ; tries += 1) {
    const main = await bind('127.0.0.1', 0);
    const port = main.address().port;
    try {
      const otherPort = await bind('127.0.0.1', port + 1);
      const otherIp = await bind('127.0.0.2', port);
      main.on('message', (message, remote) => {
        for (const reply of behaviour(new Uint8Array(message), transportAddress(remote.address, remote.port))) {
          const via = reply.from === 'other-port' ? otherPort : reply.from === 'other-ip' ? otherIp : main;
          via.send(reply.bytes, remote.port, remote.address);
        }
      });
      return { port, close: () => [main, otherPort, otherIp].forEach((s) => s.close()) };
    } catch (error) {
      main.close();
      if (tries > 20) throw error;
    }
  }
}
