import { describe, expect, it } from '@jest/globals';
import { decodeStunMessage } from '../../src/codec/decode.js';
import { encodeBindingSuccessResponse } from '../../src/codec/encode.js';
import { transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import type { UdpSocket } from '../../src/probe/ports.js';
import { StunClient } from '../../src/probe/stun-client.js';
import { RFC8489_DEFAULT_POLICY } from '../../src/protocol/transaction.js';
import { bytesOf, rfc5769 } from '../helpers/fixtures.js';
import { FakeClock } from '../helpers/fake-clock.js';

const SERVER = transportAddress('203.0.113.1', 3478);

/** A socket that records sends and lets the test inject datagrams. */
function recordingSocket() {
  const sent: Array<{ atMs: number; bytes: Uint8Array; to: TransportAddress }> = [];
  let receiver: (bytes: Uint8Array, from: TransportAddress) => void = () => {};
  let clock: FakeClock | undefined;
  const socket: UdpSocket = {
    local: transportAddress('0.0.0.0', 5000),
    send: (bytes, to) => sent.push({ atMs: clock?.nowMs() ?? 0, bytes, to }),
    onDatagram: (r) => {
      receiver = r;
    },
    close: () => {},
  };
  return { socket, sent, inject: (bytes: Uint8Array, from: TransportAddress) => receiver(bytes, from), useClock: (c: FakeClock) => (clock = c) };
}

const answer = (request: Uint8Array): Uint8Array =>
  encodeBindingSuccessResponse({ transactionId: decodeStunMessage(request).transactionId, xorMappedAddress: transportAddress('198.51.100.9', 6000) });

describe('StunClient', () => {
  it('retransmits on the RFC 8489 schedule and reports a timeout as evidence after 39.5 s', async () => {
    const clock = new FakeClock();
    const net = recordingSocket();
    net.useClock(clock);
    const client = new StunClient(net.socket, clock);
    const observation = await clock.run(client.binding({ test: 'mapping test I', destination: SERVER, policy: RFC8489_DEFAULT_POLICY }));
    expect(net.sent.map((s) => s.atMs)).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(observation).toMatchObject({ outcome: 'timeout', attempts: 7, elapsedMs: 39500 });
    // Every retransmission carries the same transaction ID (RFC 8489 §6.2.1).
    expect(new Set(net.sent.map((s) => Buffer.from(s.bytes.subarray(8, 20)).toString('hex'))).size).toBe(1);
  });

  it('ignores strays, malformed datagrams and answers from the wrong source, then takes the right one', async () => {
    const clock = new FakeClock();
    const net = recordingSocket();
    const client = new StunClient(net.socket, clock);
    const pending = client.binding({ test: 'mapping test I', destination: SERVER, policy: RFC8489_DEFAULT_POLICY });
    const request = net.sent[0]!.bytes;
    net.inject(new Uint8Array([0, 1, 2]), SERVER);
    net.inject(bytesOf(rfc5769.sampleIPv4Response), SERVER); // valid STUN, wrong transaction
    const truncated = answer(request).subarray(0, 24);
    net.inject(truncated, SERVER);
    net.inject(answer(request), transportAddress('203.0.113.66', 3478)); // right ID, wrong source
    clock.setTimer(100, () => net.inject(answer(request), SERVER));
    const observation = await clock.run(pending);
    expect(observation).toMatchObject({ outcome: 'response', attempts: 1, rttMs: 100, responseFrom: SERVER, xorMappedAddress: transportAddress('198.51.100.9', 6000) });
  });

  it('accepts an answer from anywhere for CHANGE-REQUEST tests, and records where it came from', async () => {
    const clock = new FakeClock();
    const net = recordingSocket();
    const client = new StunClient(net.socket, clock);
    const pending = client.binding({ test: 'filtering test II', destination: SERVER, changeRequest: { changeIp: true, changePort: true }, policy: RFC8489_DEFAULT_POLICY, acceptFrom: 'any' });
    expect(decodeStunMessage(net.sent[0]!.bytes).changeRequest).toEqual({ changeIp: true, changePort: true });
    const other = transportAddress('203.0.113.2', 3479);
    net.inject(answer(net.sent[0]!.bytes), other);
    expect(await clock.run(pending)).toMatchObject({ outcome: 'response', responseFrom: other });
  });

  it('resolves pending tests as timeouts when closed', async () => {
    const clock = new FakeClock();
    const net = recordingSocket();
    const client = new StunClient(net.socket, clock);
    const pending = client.binding({ test: 'mapping test I', destination: SERVER, policy: RFC8489_DEFAULT_POLICY });
    client.close();
    await expect(pending).resolves.toMatchObject({ outcome: 'timeout', attempts: 1 });
    expect(clock.pendingTimers).toBe(0);
  });
});
