import { describe, expect, it } from '@jest/globals';
import { transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import { encodeEchoMessage } from '../../src/protocol/echo-messages.js';
import { EchoLoopGuard, isLoopProneSourcePort } from '../../src/protocol/echo-loop-guard.js';
import { EchoServerProtocol } from '../../src/protocol/echo-server.js';
import type { ServerSocketKey } from '../../src/protocol/stun-server.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { seededRandom } from '../helpers/seeded-random.js';

const MAIN: ServerSocketKey = { address: 'primary', port: 'primary' };
const TEN_MINUTES_MS = 10 * 60_000;

/** Something at one UDP socket that answers datagrams: a natscope echo server, or another kind of service. */
type Party = (nowMs: number, bytes: Uint8Array, from: TransportAddress) => Uint8Array[];

const natscopeEcho = (server: EchoServerProtocol): Party => (nowMs, bytes, from) =>
  server.handleDatagram(nowMs, bytes, from, MAIN).flatMap((action) => (action.type === 'send' ? [action.bytes] : []));
/** An RFC 862 echo service: every datagram back as it came. */
const plainEcho: Party = (_nowMs, bytes) => [bytes];
/** An RFC 864 chargen service: a new line of characters for any datagram. */
const chargen: Party = (nowMs) => [new TextEncoder().encode(`chargen ${nowMs} !"#$%&'()*+,-./0123456789`)];

/**
 * Wires parties at transport addresses together on a fake clock, each hop taking 5–40 ms, delivers `forged` to
 * `victim` as if it came from `spoofed`, runs `durationMs` of fake time, and counts the datagrams each party sent.
 */
function runForgedDatagram(parties: Map<string, Party>, victim: TransportAddress, spoofed: TransportAddress, forged: Uint8Array, durationMs = TEN_MINUTES_MS) {
  const clock = new FakeClock();
  const sent = new Map<string, number>();
  const random = seededRandom(3);
  const delayMs = (): number => 5 + Math.floor(random() * 36);
  const deliver = (to: TransportAddress, from: TransportAddress, bytes: Uint8Array): void => {
    const party = parties.get(`${to.address}:${to.port}`);
    if (party === undefined) return;
    for (const reply of party(clock.nowMs(), bytes, from)) {
      sent.set(`${to.address}:${to.port}`, (sent.get(`${to.address}:${to.port}`) ?? 0) + 1);
      clock.setTimer(delayMs(), () => deliver(from, to, reply));
    }
  };
  clock.setTimer(0, () => deliver(victim, spoofed, forged));
  while (clock.nowMs() <= durationMs && clock.fireNext()) {
    // runs until the loop dies or the time is up
  }
  const total = [...sent.values()].reduce((a, b) => a + b, 0);
  return { total, sent, stillLoopingAtMs: clock.pendingTimers > 0 ? clock.nowMs() : undefined };
}

const serverA = transportAddress('198.51.100.1', 40999);
const serverB = transportAddress('203.0.113.1', 41999);
const newServer = (at: TransportAddress) => new EchoServerProtocol({ address: at.address, port: at.port, alternatePort: at.port + 1, secret: new Uint8Array(32).fill(1) });
const forged = new TextEncoder().encode('one forged datagram');

describe('echo loops: one forged datagram causes at most 6 echoes in all (README, "No echo loops")', () => {
  it('between two natscope echo servers 5–40 ms apart, the loop dies within the bound (it used to run for 10 minutes and more)', () => {
    const parties = new Map([
      [`${serverA.address}:${serverA.port}`, natscopeEcho(newServer(serverA))],
      [`${serverB.address}:${serverB.port}`, natscopeEcho(newServer(serverB))],
    ]);
    const run = runForgedDatagram(parties, serverA, serverB, forged);
    expect(run.total).toBeLessThanOrEqual(6);
    expect(run.stillLoopingAtMs).toBeUndefined();
  });

  it('between a natscope echo server and an RFC 862 echo service on a high port, the loop dies within the bound', () => {
    const service = transportAddress('203.0.113.7', 47007);
    const parties = new Map<string, Party>([
      [`${serverA.address}:${serverA.port}`, natscopeEcho(newServer(serverA))],
      [`${service.address}:${service.port}`, plainEcho],
    ]);
    for (const [victim, spoofed] of [[serverA, service], [service, serverA]] as const) {
      const run = runForgedDatagram(parties, victim, spoofed, forged);
      expect(run.total).toBeLessThanOrEqual(6);
      expect(run.stillLoopingAtMs).toBeUndefined();
    }
  });

  it('never answers the echo (7) or chargen (19) port, so a service that changes the bytes cannot loop with it', () => {
    for (const [port, service] of [[7, plainEcho], [19, chargen]] as const) {
      const at = transportAddress('203.0.113.7', port);
      const parties = new Map<string, Party>([
        [`${serverA.address}:${serverA.port}`, natscopeEcho(newServer(serverA))],
        [`${at.address}:${at.port}`, service],
      ]);
      expect(runForgedDatagram(parties, serverA, at, forged).total).toBe(0);
      expect(runForgedDatagram(parties, at, serverA, forged).total).toBeLessThanOrEqual(1);
    }
  });

  it('does not answer a datagram forged from its own other socket', () => {
    const server = newServer(serverA);
    const ownAlternate = transportAddress(serverA.address, serverA.port + 1);
    expect(server.handleDatagram(0, forged, ownAlternate, MAIN)).toEqual([{ type: 'ignore', reason: 'loop-guard', detail: 'own-socket' }]);
  });

  it('answers no control message that a server sends, so forged REGISTERs cost one datagram between two servers', () => {
    const parties = new Map([
      [`${serverA.address}:${serverA.port}`, natscopeEcho(newServer(serverA))],
      [`${serverB.address}:${serverB.port}`, natscopeEcho(newServer(serverB))],
    ]);
    const register = encodeEchoMessage({ type: 'register', token: new Uint8Array(16).fill(5) });
    expect(runForgedDatagram(parties, serverA, serverB, register).total).toBe(1);
  });

  it('still echoes a person typing at nc -u: every new line, and the same line up to 3 times in 30 s', () => {
    const server = newServer(serverA);
    const person = transportAddress('192.0.2.55', 51234);
    const type = (atMs: number, text: string) => server.handleDatagram(atMs, new TextEncoder().encode(text), person, MAIN)[0];
    for (let i = 0; i < 20; i += 1) expect(type(i * 1500, `line ${i}\n`)).toMatchObject({ type: 'send', to: person });
    expect(type(40_000, 'hello\n')).toMatchObject({ type: 'send' });
    expect(type(41_000, 'hello\n')).toMatchObject({ type: 'send' });
    expect(type(42_000, 'hello\n')).toMatchObject({ type: 'send' });
    expect(type(43_000, 'hello\n')).toEqual({ type: 'ignore', reason: 'loop-guard', detail: 'repeated-echo' });
    expect(type(70_001, 'hello\n')).toMatchObject({ type: 'send' });
  });
});

describe('EchoLoopGuard', () => {
  it('refuses well-known and echo-prone service ports, and not ephemeral ones', () => {
    for (const port of [0, 7, 13, 19, 37, 53, 123, 1023, 1900, 3478, 3479, 3480, 5060, 5351, 5353, 9199, 9200, 11211]) expect(isLoopProneSourcePort(port)).toBe(true);
    for (const port of [1024, 3477, 8080, 9198, 9201, 32768, 50000, 60999, 65535]) expect(isLoopProneSourcePort(port)).toBe(false);
  });

  it('answers a control message from a registered service port (a random-port NAT may pick 5060), never from below 1024', () => {
    const server = newServer(serverA);
    const register = encodeEchoMessage({ type: 'register', token: new Uint8Array(16).fill(3) });
    expect(server.handleDatagram(0, register, transportAddress('192.0.2.8', 5060), MAIN)).toMatchObject([{ type: 'send' }]);
    expect(server.handleDatagram(0, new Uint8Array([1]), transportAddress('192.0.2.8', 5060), MAIN)).toEqual([{ type: 'ignore', reason: 'loop-guard', detail: 'service-port' }]);
    expect(server.handleDatagram(0, register, transportAddress('192.0.2.8', 7), MAIN)).toEqual([{ type: 'ignore', reason: 'loop-guard', detail: 'service-port' }]);
  });

  it('gives each destination socket a budget of plain echoes (10/s, burst 20)', () => {
    const guard = new EchoLoopGuard([serverA]);
    const peer = transportAddress('192.0.2.9', 40000);
    let allowed = 0;
    for (let i = 0; i < 100; i += 1) if (guard.allowEcho(0, peer, new Uint8Array([i])) === undefined) allowed += 1;
    expect(allowed).toBe(20);
    expect(guard.allowEcho(1000, peer, new Uint8Array([200]))).toBeUndefined();
    expect(guard.allowEcho(1000, transportAddress('192.0.2.9', 40001), new Uint8Array([1]))).toBeUndefined();
  });

  it('remembers at most maxTracked echoes: its memory does not grow with the number of peers', () => {
    const guard = new EchoLoopGuard([serverA], { maxIdenticalEchoes: 3, identicalWindowMs: 30_000, plainEchoRate: { packetsPerSecond: 1e9, burst: 1e9 }, maxTracked: 100 }, 12345);
    for (let i = 0; i < 5000; i += 1) guard.allowEcho(i, transportAddress('192.0.2.9', 40000 + i), new Uint8Array([1]));
    expect(guard.trackedEchoes).toBeLessThanOrEqual(100);
    // A peer whose slot was taken over is forgotten, and gets fresh echoes: a cost of one extra pass, never a crash.
    const peer = transportAddress('192.0.2.10', 40000);
    for (let i = 0; i < 3; i += 1) expect(guard.allowEcho(6000, peer, new Uint8Array([2]))).toBeUndefined();
    expect(guard.allowEcho(6000, peer, new Uint8Array([2]))).toBe('repeated-echo');
  });

});
