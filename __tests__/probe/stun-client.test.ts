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

  it('ignores strays, a wrong answer and one from the wrong source, counts them by kind, then takes the right one', async () => {
    const clock = new FakeClock();
    const net = recordingSocket();
    const client = new StunClient(net.socket, clock);
    const pending = client.binding({ test: 'mapping test I', destination: SERVER, policy: RFC8489_DEFAULT_POLICY });
    const request = net.sent[0]!.bytes;
    net.inject(new Uint8Array([0, 1, 2]), transportAddress('192.0.2.77', 9)); // not from the server: a stray
    net.inject(bytesOf(rfc5769.sampleIPv4Response), SERVER); // valid STUN, wrong transaction
    net.inject(answer(request), transportAddress('203.0.113.66', 3478)); // right ID, wrong source
    clock.setTimer(100, () => net.inject(answer(request), SERVER));
    const observation = await clock.run(pending);
    expect(observation).toMatchObject({ outcome: 'response', attempts: 1, rttMs: 100, elapsedMs: 100, responseFrom: SERVER, xorMappedAddress: transportAddress('198.51.100.9', 6000) });
    expect(observation.rejected).toEqual({ stray: 1, 'wrong-transaction-id': 1, 'wrong-source': 1 });
  });

  it('gives up after three answers from the server that do not match, without waiting out the schedule', async () => {
    const clock = new FakeClock();
    const net = recordingSocket();
    const client = new StunClient(net.socket, clock);
    const pending = client.binding({ test: 'mapping test I', destination: SERVER, policy: RFC8489_DEFAULT_POLICY });
    const request = net.sent[0]!.bytes;
    net.inject(new Uint8Array([0, 1, 2]), SERVER);
    net.inject(bytesOf(rfc5769.sampleIPv4Response), SERVER);
    net.inject(answer(request).subarray(0, 24), SERVER);
    const observation = await clock.run(pending);
    expect(observation).toMatchObject({ outcome: 'broken-answers', attempts: 1, elapsedMs: 0, rejected: { 'not-stun': 1, 'wrong-transaction-id': 1, 'malformed-stun': 1 } });
  });

  it('does not count a late duplicate of an answered request as a wrong answer', async () => {
    const clock = new FakeClock();
    const net = recordingSocket();
    const client = new StunClient(net.socket, clock);
    const first = client.binding({ test: 'mapping test I', destination: SERVER, policy: RFC8489_DEFAULT_POLICY });
    const firstRequest = net.sent[0]!.bytes;
    net.inject(answer(firstRequest), SERVER);
    await clock.run(first);
    const second = client.binding({ test: 'mapping test II', destination: SERVER, policy: RFC8489_DEFAULT_POLICY });
    for (let i = 0; i < 5; i += 1) net.inject(answer(firstRequest), SERVER);
    clock.setTimer(50, () => net.inject(answer(net.sent[1]!.bytes), SERVER));
    expect(await clock.run(second)).toMatchObject({ outcome: 'response' });
  });

  it('ends a test at once on a failed send (no route), naming the errno', async () => {
    const clock = new FakeClock();
    const net = recordingSocket();
    let onError: (error: { code: string; kind: 'send' | 'icmp'; to?: TransportAddress }) => void = () => {};
    const socket: UdpSocket = { ...net.socket, onError: (r) => (onError = r) };
    const client = new StunClient(socket, clock);
    const pending = client.binding({ test: 'mapping test I', destination: SERVER, policy: RFC8489_DEFAULT_POLICY });
    onError({ code: 'ENETUNREACH', kind: 'send', to: SERVER });
    expect(await clock.run(pending)).toMatchObject({ outcome: 'send-error', systemError: 'ENETUNREACH', attempts: 1, elapsedMs: 0 });
  });

  it('reads ICMP port unreachable on a connected socket as "nothing listens there"', async () => {
    const clock = new FakeClock();
    const net = recordingSocket();
    let onError: (error: { code: string; kind: 'send' | 'icmp'; to?: TransportAddress }) => void = () => {};
    const client = new StunClient({ ...net.socket, onError: (r) => (onError = r) }, clock);
    const pending = client.binding({ test: 'mapping test I', destination: SERVER, policy: RFC8489_DEFAULT_POLICY });
    clock.setTimer(2, () => onError({ code: 'ECONNREFUSED', kind: 'icmp', to: SERVER }));
    expect(await clock.run(pending)).toMatchObject({ outcome: 'port-unreachable', systemError: 'ECONNREFUSED', elapsedMs: 2 });
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
