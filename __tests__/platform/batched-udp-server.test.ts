import { describe, expect, it } from '@jest/globals';
import { AttributeType } from '../../src/codec/constants.js';
import { createTransactionId, encodeBindingRequest } from '../../src/codec/encode.js';
import { ipFromBytes, ipToBytes, transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import { runBatchedUdpServer } from '../../src/platform/batched-udp-server.js';
import type { UdpBatchAddon, UdpBatchHandle } from '../../src/platform/udp-batch.js';
import type { DatagramServerProtocol } from '../../src/platform/udp-server.js';
import { StunServerProtocol, type ServerSocketKey } from '../../src/protocol/stun-server.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { withRawAttribute } from '../helpers/fixtures.js';

// The JS half of batched I/O, against a fake addon that keeps the native layout (records of RECORD_BYTES: int32
// length, int32 family, int32 port, then the IP bytes at 12; datagram i at i * SLOT_BYTES, answers SEND_SLOT_BYTES apart). Whatever the real
// addon does, this proves the glue hands the protocol what it would get from node:dgram and sends what it answers.
const BATCH = 64;
const SLOT_BYTES = 2048;
const SEND_SLOT_BYTES = 4096;
const RECORD_BYTES = 32;

interface Sent {
  readonly fd: number;
  readonly to: TransportAddress;
  readonly bytes: Uint8Array;
}

function fakeAddon(): { addon: UdpBatchAddon; deliver: (fd: number, datagrams: ReadonlyArray<{ from: TransportAddress; bytes: Uint8Array | null }>) => void; sent: Sent[]; sendCalls: number[]; stopped: number[] } {
  const polls = new Map<number, { data: Uint8Array; records: Uint8Array; onBatch: (count: number) => void }>();
  const sent: Sent[] = [];
  const sendCalls: number[] = [];
  const stopped: number[] = [];
  let nextFd = 10;
  const addon: UdpBatchAddon = {
    open: () => nextFd++,
    localPort: (fd) => 40000 + fd,
    poll: (fd, data, records, onBatch) => {
      polls.set(fd, { data, records, onBatch });
      return fd as unknown as UdpBatchHandle;
    },
    send: (fd, data, records, count) => {
      sendCalls.push(count);
      const words = new Int32Array(records.buffer, records.byteOffset, (count * RECORD_BYTES) / 4);
      for (let i = 0; i < count; i += 1) {
        const family = words[i * 8 + 1] === 6 ? 'IPv6' : 'IPv4';
        const ip = records.slice(i * RECORD_BYTES + 12, i * RECORD_BYTES + 12 + (family === 'IPv6' ? 16 : 4));
        sent.push({ fd, to: { family, address: ipFromBytes(ip), port: words[i * 8 + 2]! }, bytes: data.slice(i * SEND_SLOT_BYTES, i * SEND_SLOT_BYTES + words[i * 8]!) });
      }
      return count;
    },
    stop: (handle) => {
      stopped.push(handle as unknown as number);
    },
    closeFd: () => {},
    BATCH,
    SLOT_BYTES,
    SEND_SLOT_BYTES,
    RECORD_BYTES,
  };
  // As the addon's on_readable: fill the shared areas, then one call per batch.
  const deliver = (fd: number, datagrams: ReadonlyArray<{ from: TransportAddress; bytes: Uint8Array | null }>): void => {
    const poll = polls.get(fd);
    if (poll === undefined) throw new Error(`fd ${fd} is not polled`);
    const words = new Int32Array(poll.records.buffer, poll.records.byteOffset, (BATCH * RECORD_BYTES) / 4);
    datagrams.forEach(({ from, bytes }, i) => {
      words[i * 8] = bytes === null ? -1 : bytes.length;
      words[i * 8 + 1] = from.family === 'IPv6' ? 6 : 4;
      words[i * 8 + 2] = from.port;
      poll.records.set(ipToBytes(from.address), i * RECORD_BYTES + 12);
      if (bytes !== null) poll.data.set(bytes, i * SLOT_BYTES);
    });
    poll.onBatch(datagrams.length);
  };
  return { addon, deliver, sent, sendCalls, stopped };
}

const config = { primaryAddress: '192.0.2.1', primaryPort: 3478, alternateAddress: '192.0.2.2', alternatePort: 3479, software: 'natscope test', rateLimit: 'off' as const };
const PP: ServerSocketKey = { address: 'primary', port: 'primary' };

describe('runBatchedUdpServer (batched I/O glue)', () => {
  it('answers a batch as the protocol answers each datagram alone: same bytes, same socket, same destination', () => {
    const { addon, deliver, sent } = fakeAddon();
    const protocol = new StunServerProtocol(config);
    const reference = new StunServerProtocol(config);
    const server = runBatchedUdpServer(protocol, new FakeClock(), addon);
    const fds = [10, 11, 12, 13]; // the order of protocol.sockets(): PP, PA, AP, AA
    expect(server.addresses.map((a) => `${a.address}:${a.port}`)).toEqual(fds.map((fd, i) => `${i < 2 ? '192.0.2.1' : '192.0.2.2'}:${40000 + fd}`));

    const plain = encodeBindingRequest({ transactionId: createTransactionId() });
    const change = encodeBindingRequest({ transactionId: createTransactionId(), changeRequest: { changeIp: true, changePort: true } });
    const v6 = encodeBindingRequest({ transactionId: createTransactionId() });
    const datagrams = [
      { from: transportAddress('198.51.100.7', 40001), bytes: plain },
      { from: transportAddress('198.51.100.8', 40002), bytes: change },
      { from: transportAddress('198.51.100.9', 40003), bytes: Uint8Array.from([1, 2, 3]) },
      { from: transportAddress('2001:db8::7', 40004), bytes: v6 },
    ];
    deliver(10, datagrams);

    const expected = datagrams.flatMap(({ from, bytes }) => {
      const action = reference.handleDatagram(0, bytes, from, PP);
      return action.type === 'send' ? [{ via: action.via, to: action.to, bytes: action.bytes.slice() }] : [];
    });
    expect(expected).toHaveLength(3);
    const fdOf = (key: ServerSocketKey): number => fds[(key.address === 'alternate' ? 2 : 0) + (key.port === 'alternate' ? 1 : 0)]!;
    expect(sent.map((s) => ({ fd: s.fd, to: s.to, bytes: Buffer.from(s.bytes).toString('hex') })).sort((a, b) => a.to.port - b.to.port)).toEqual(
      expected.map((e) => ({ fd: fdOf(e.via), to: e.to, bytes: Buffer.from(e.bytes).toString('hex') })),
    );
    // The CHANGE-REQUEST answer left from the alternate address and port (RFC 5780 §6.1).
    expect(sent.find((s) => s.to.port === 40002)?.fd).toBe(13);
    expect(protocol.stats.drops['not-stun']).toBe(1);
    expect(protocol.stats.responses.success).toBe(3);
  });

  it('sends a RESPONSE-PORT answer to the same IP at the asked port (RFC 5780 §7.5)', () => {
    const { addon, deliver, sent } = fakeAddon();
    runBatchedUdpServer(new StunServerProtocol(config), new FakeClock(), addon);
    const withPort = withRawAttribute(encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false }), AttributeType.RESPONSE_PORT, Uint8Array.of(0x9c, 0x41, 0, 0));
    deliver(10, [{ from: transportAddress('198.51.100.7', 40001), bytes: withPort }]);
    expect(sent.map((s) => s.to)).toEqual([transportAddress('198.51.100.7', 0x9c41)]);
  });

  it('drops a datagram the addon had to cut (longer than a slot) and goes on with the batch', () => {
    const { addon, deliver, sent } = fakeAddon();
    const protocol = new StunServerProtocol(config);
    runBatchedUdpServer(protocol, new FakeClock(), addon);
    deliver(10, [
      { from: transportAddress('198.51.100.7', 40001), bytes: null },
      { from: transportAddress('198.51.100.7', 40002), bytes: encodeBindingRequest({ transactionId: createTransactionId() }) },
    ]);
    expect(sent.map((s) => s.to.port)).toEqual([40002]);
    expect(protocol.stats.drops['not-stun']).toBe(1);
  });

  it('sends a full batch at once when the answers outnumber a batch, and survives a protocol that throws', () => {
    const { addon, deliver, sent, sendCalls } = fakeAddon();
    const errors: string[] = [];
    // Two answers per datagram, and an exception for the datagram whose first byte is 0xff.
    const doubling: DatagramServerProtocol<'only'> = {
      sockets: () => [{ key: 'only', local: transportAddress('192.0.2.1', 7) }],
      handleDatagram: (_now, bytes, from) => {
        if (bytes[0] === 0xff) throw new Error('boom');
        return [
          { type: 'send', via: 'only', to: from, bytes: bytes.slice() },
          { type: 'send', via: 'only', to: from, bytes: bytes.slice() },
        ];
      },
    };
    runBatchedUdpServer(doubling, new FakeClock(), addon, (error) => errors.push(error.message));
    const datagrams = Array.from({ length: BATCH }, (_, i) => ({ from: transportAddress('198.51.100.7', 1000 + i), bytes: Uint8Array.of(i === 5 ? 0xff : i) }));
    deliver(10, datagrams);
    expect(errors).toEqual(['boom']);
    expect(sent).toHaveLength(2 * (BATCH - 1));
    expect(sendCalls).toEqual([64, 62]);
    expect(sent.slice(0, 2).map((s) => [s.to.port, s.bytes[0]])).toEqual([
      [1000, 0],
      [1000, 0],
    ]);
  });

  it('finds the answering socket by value when a protocol hands back a fresh key object', () => {
    const { addon, deliver, sent } = fakeAddon();
    const keys = [{ name: 'a' }, { name: 'b' }];
    const protocol: DatagramServerProtocol<{ name: string }> = {
      sockets: () => keys.map((key, i) => ({ key, local: transportAddress('192.0.2.1', 7 + i) })),
      handleDatagram: (_now, bytes, from) => ({ type: 'send', via: { name: 'b' }, to: from, bytes: bytes.slice() }),
    };
    runBatchedUdpServer(protocol, new FakeClock(), addon);
    deliver(10, [{ from: transportAddress('198.51.100.7', 1000), bytes: Uint8Array.of(1) }]);
    expect(sent.map((s) => s.fd)).toEqual([11]);
  });

  it('stops every socket it polls on close', async () => {
    const { addon, stopped } = fakeAddon();
    const server = runBatchedUdpServer(new StunServerProtocol(config), new FakeClock(), addon);
    await server.close();
    expect(stopped.sort()).toEqual([10, 11, 12, 13]);
  });
});
