import { ipFromBytes, ipToBytes, type TransportAddress } from '../codec/transport-address.js';
import { SocketError } from '../errors.js';
import type { Clock } from '../probe/ports.js';
import type { SharedUdpServer } from './shared-udp-server.js';
import type { UdpBatchAddon, UdpBatchHandle } from './udp-batch.js';
import { socketKeyIndex, type DatagramServerProtocol } from './udp-server.js';

/** Receive buffer asked of the kernel per socket: room for bursts while JS runs a batch. */
const RECEIVE_BUFFER_BYTES = 4 << 20;

/** Opens the protocol's sockets with the batched addon (SO_REUSEPORT when asked); closes them all on a failure. */
export function openBatchedSockets<K>(protocol: DatagramServerProtocol<K>, addon: UdpBatchAddon, reusePort = false): number[] {
  const fds: number[] = [];
  try {
    for (const { local } of protocol.sockets()) {
      try {
        fds.push(addon.open(local.family === 'IPv6' ? 6 : 4, ipToBytes(local.address), local.port, RECEIVE_BUFFER_BYTES, reusePort));
      } catch (error) {
        throw new SocketError(`Cannot bind UDP socket to ${local.family === 'IPv6' ? `[${local.address}]` : local.address}:${local.port}: ${(error as Error).message}`, { cause: error });
      }
    }
  } catch (error) {
    closeFds(fds, addon);
    throw error;
  }
  return fds;
}

/** Closes fds that no poll owns. */
export function closeFds(fds: readonly number[], addon: UdpBatchAddon): void {
  for (const fd of fds) addon.closeFd(fd);
}

/**
 * Runs a Sans-IO datagram protocol on batched UDP I/O (recvmmsg/sendmmsg through `udp-batch`): one JS call per
 * batch of datagrams, the answers gathered per sending socket and sent with one syscall each. The protocol sees
 * exactly what `runSharedUdpServer` gives it (bytes, a TransportAddress, the socket key); only the I/O differs.
 * It opens the protocol's sockets, with SO_REUSEPORT when `reusePort` (cluster workers: each has its own sockets
 * and the kernel spreads flows over them). Datagrams longer than the addon's slot (2048 bytes) reach the protocol empty,
 * so it drops them. The bytes handed to the protocol are a view of the receive area, valid only during the call (the
 * next batch overwrites them), and its answers are copied at once: a protocol that keeps either must copy them
 * (the STUN server keeps neither). Nothing a datagram holds can throw out of here.
 */
export function runBatchedUdpServer<K>(
  protocol: DatagramServerProtocol<K>,
  clock: Clock,
  addon: UdpBatchAddon,
  onError: (error: Error) => void = () => {},
  reusePort = false,
): SharedUdpServer {
  const entries = protocol.sockets();
  const socketFds = openBatchedSockets(protocol, addon, reusePort);
  const { BATCH, SLOT_BYTES, SEND_SLOT_BYTES, RECORD_BYTES } = addon;
  const words = RECORD_BYTES / 4;
  const empty = new Uint8Array(0);

  // One receive area (all sockets' batches are handled one at a time) and one send area per socket.
  const receive = new ArrayBuffer(BATCH * SLOT_BYTES);
  const receiveData = new Uint8Array(receive);
  const receiveRecords = new ArrayBuffer(BATCH * RECORD_BYTES);
  const receiveWords = new Int32Array(receiveRecords);
  const receiveBytes = new Uint8Array(receiveRecords);
  const outs = socketFds.map((fd) => {
    const records = new ArrayBuffer(BATCH * RECORD_BYTES);
    return { fd, data: new Uint8Array(BATCH * SEND_SLOT_BYTES), words: new Int32Array(records), bytes: new Uint8Array(records), count: 0 };
  });
  const keyIndex = socketKeyIndex(entries.map((entry) => entry.key));
  const flush = (out: (typeof outs)[number]): void => {
    if (out.count > 0) addon.send(out.fd, out.data, out.bytes, out.count);
    out.count = 0;
  };
  const queue = (via: number, to: TransportAddress, bytes: Uint8Array, sourceRecord: number, source: TransportAddress): void => {
    const out = outs[via]!;
    // Never for STUN: an answer is at most its request (<= SLOT_BYTES) plus ~250 bytes of the server's attributes.
    if (bytes.length > SEND_SLOT_BYTES) return;
    if (out.count === BATCH) flush(out);
    const n = out.count;
    out.data.set(bytes, n * SEND_SLOT_BYTES);
    const w = n * words;
    out.words[w] = bytes.length;
    out.words[w + 1] = to.family === 'IPv6' ? 6 : 4;
    out.words[w + 2] = to.port;
    const at = n * RECORD_BYTES + 12;
    // The answer goes to the source's own IP (RFC 5780 §7.5: RESPONSE-PORT changes the port only): copy its bytes.
    if (to.address === source.address) out.bytes.set(receiveBytes.subarray(sourceRecord + 12, sourceRecord + 12 + (to.family === 'IPv6' ? 16 : 4)), at);
    else out.bytes.set(ipToBytes(to.address), at);
    out.count = n + 1;
  };

  const handles: UdpBatchHandle[] = [];
  socketFds.forEach((fd, arrivedIndex) => {
    const key = entries[arrivedIndex]!.key;
    const onBatch = (count: number): void => {
      const nowMs = clock.nowMs();
      for (let i = 0; i < count; i += 1) {
        const w = i * words;
        const length = receiveWords[w]!;
        const family = receiveWords[w + 1] === 6 ? 'IPv6' : 'IPv4';
        const at = i * RECORD_BYTES + 12;
        const address =
          family === 'IPv4'
            ? `${receiveBytes[at]}.${receiveBytes[at + 1]}.${receiveBytes[at + 2]}.${receiveBytes[at + 3]}`
            : ipFromBytes(receiveBytes.subarray(at, at + 16));
        const source: TransportAddress = { family, address, port: receiveWords[w + 2]! };
        try {
          const bytes = length < 0 ? empty : receiveData.subarray(i * SLOT_BYTES, i * SLOT_BYTES + length);
          const actions = protocol.handleDatagram(nowMs, bytes, source, key);
          for (const action of Array.isArray(actions) ? actions : [actions]) {
            if (action.type !== 'send') continue;
            const via = keyIndex(action.via);
            if (via !== undefined) queue(via, action.to, action.bytes, i * RECORD_BYTES, source);
          }
        } catch (error) {
          onError(error as Error);
        }
      }
      for (const out of outs) flush(out);
    };
    handles.push(addon.poll(fd, receiveData, receiveBytes, onBatch));
  });

  return {
    addresses: entries.map(({ local }, i) => ({ ...local, port: addon.localPort(socketFds[i]!) })),
    close: async () => {
      for (const handle of handles.splice(0)) addon.stop(handle);
    },
  };
}
