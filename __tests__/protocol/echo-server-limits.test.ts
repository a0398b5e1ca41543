import { describe, expect, it } from '@jest/globals';
import { transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import { decodeEchoMessage, encodeEchoMessage, ECHO_MESSAGE_BYTES, type EchoMessage } from '../../src/protocol/echo-messages.js';
import { EchoServerProtocol, type EchoServerConfig } from '../../src/protocol/echo-server.js';
import { sourcePrefixOf } from '../../src/protocol/source-prefix.js';
import type { ServerSocketKey } from '../../src/protocol/stun-server.js';

const MAIN: ServerSocketKey = { address: 'primary', port: 'primary' };
const nonce = new Uint8Array(8).fill(9);
let nextToken = 1;
const freshToken = (): Uint8Array => new Uint8Array(new Uint32Array([nextToken++, 0, 0, 0xfeed]).buffer);
const server = (config: Partial<EchoServerConfig> = {}) => new EchoServerProtocol({ address: '203.0.113.1', port: 9199, secret: new Uint8Array(32).fill(1), ...config });

/** Sends one control message; the decoded answer, or the ignore reason. */
function ask(echo: EchoServerProtocol, atMs: number, message: EchoMessage, from: TransportAddress): EchoMessage | string {
  const [action] = echo.handleDatagram(atMs, encodeEchoMessage(message), from, MAIN);
  if (action === undefined) return 'nothing';
  if (action.type === 'ignore') return action.reason;
  expect(action.bytes.length).toBeLessThanOrEqual(ECHO_MESSAGE_BYTES);
  return decodeEchoMessage(action.bytes) ?? 'undecodable';
}

function register(echo: EchoServerProtocol, atMs: number, from: TransportAddress, token = freshToken()) {
  const answer = ask(echo, atMs, { type: 'register', token }, from);
  return { token, answer };
}

describe('EchoServerProtocol: the table cannot be filled from outside', () => {
  it('256 sources registering at their full rate (200/s) hold at most 256 each, and a new client still registers', () => {
    const echo = server();
    const sources = Array.from({ length: 256 }, (_, i) => Array.from({ length: 400 }, (_, port) => transportAddress(`192.0.2.${i}`, 20000 + port)));
    for (let t = 0; t <= 1000; t += 100) {
      for (const ports of sources) {
        for (let i = 0; i < (t === 0 ? 400 : 20); i += 1) echo.handleDatagram(t, encodeEchoMessage({ type: 'register', token: freshToken() }), ports[i]!, MAIN);
      }
    }
    expect(echo.registrationCount).toBe(256 * 256);
    expect(register(echo, 10_001, transportAddress('198.51.100.77', 50000)).answer).toMatchObject({ type: 'registered' });
  });

  it('answers BUSY source-limit (as large as the request, at most one a second) to a source at its limit', () => {
    const echo = server({ maxRegistrationsPerSource: 4 });
    for (let i = 0; i < 4; i += 1) expect(register(echo, 0, transportAddress('192.0.2.1', 40000 + i)).answer).toMatchObject({ type: 'registered' });
    const { token, answer } = register(echo, 10, transportAddress('192.0.2.1', 40010));
    expect(answer).toEqual({ type: 'busy', token, reason: 'source-limit', retryAfterMs: 60_000 - 10 });
    expect(register(echo, 20, transportAddress('192.0.2.1', 40011)).answer).toBe('source-limit');
    expect(register(echo, 1020, transportAddress('192.0.2.1', 40012)).answer).toMatchObject({ type: 'busy', reason: 'source-limit' });
    expect(register(echo, 1030, transportAddress('192.0.2.2', 40000)).answer).toMatchObject({ type: 'registered' });
  });

  it('lets a source at its limit give up its own least recently used registration once idle for 60 s, never a busy one', () => {
    const echo = server({ maxRegistrationsPerSource: 3 });
    const from = transportAddress('192.0.2.1', 40000);
    const [r1, r2, r3] = [0, 1, 2].map(() => register(echo, 0, from));
    const probe = (at: number, r: { token: Uint8Array; answer: unknown }) =>
      ask(echo, at, { type: 'probe-request', token: r.token, cookie: (r.answer as { cookie: Uint8Array }).cookie, via: 'same', delayMs: 0, nonce }, from);
    expect(probe(50_000, r1!)).toMatchObject({ type: 'probe-ack', accepted: true });
    expect(register(echo, 59_000, from).answer).toMatchObject({ type: 'busy', reason: 'source-limit', retryAfterMs: 1000 });
    expect(register(echo, 70_000, from).answer).toMatchObject({ type: 'registered' }); // r2 (idle since 0) made room
    expect(probe(70_001, r2!)).toMatchObject({ type: 'probe-ack', accepted: false });
    expect(probe(70_002, r1!)).toMatchObject({ type: 'probe-ack', accepted: true });
    expect(probe(70_003, r3!)).toMatchObject({ type: 'probe-ack', accepted: true });
  });

  it('counts an IPv6 source per /64, so a host cannot escape its limit by changing addresses', () => {
    expect(sourcePrefixOf('2001:db8:1:2::1')).toBe(sourcePrefixOf('2001:db8:1:2:ffff:1:2:3'));
    expect(sourcePrefixOf('2001:db8:1:2::1')).not.toBe(sourcePrefixOf('2001:db8:1:3::1'));
    expect(sourcePrefixOf('::ffff:192.0.2.1')).toBe('192.0.2.1');
    const echo = server({ maxRegistrationsPerSource: 3 });
    for (let i = 1; i <= 3; i += 1) expect(register(echo, 0, transportAddress(`2001:db8:1:2::${i}`, 40000)).answer).toMatchObject({ type: 'registered' });
    expect(register(echo, 0, transportAddress('2001:db8:1:2::99', 40000)).answer).toMatchObject({ type: 'busy', reason: 'source-limit' });
  });

  it('answers BUSY registrations-full when the table is full, then lets a registration that never probed in 60 s make room', () => {
    const echo = server({ maxRegistrations: 10 });
    const first = register(echo, 0, transportAddress('192.0.2.1', 40000));
    for (let i = 1; i < 10; i += 1) register(echo, 1000, transportAddress(`192.0.2.${i + 1}`, 40000));
    // The first one asks for a probe: it is in use, and is not reclaimed.
    const cookie = (first.answer as { cookie: Uint8Array }).cookie;
    expect(ask(echo, 2000, { type: 'probe-request', token: first.token, cookie, via: 'same', delayMs: 0, nonce }, transportAddress('192.0.2.1', 40001))).toMatchObject({ type: 'probe-ack', accepted: true });
    const refused = register(echo, 30_000, transportAddress('198.51.100.5', 40000));
    expect(refused.answer).toEqual({ type: 'busy', token: refused.token, reason: 'registrations-full', retryAfterMs: 31_000 });
    expect(register(echo, 61_000, transportAddress('198.51.100.5', 40000)).answer).toMatchObject({ type: 'registered' });
    expect(echo.registrationCount).toBe(10);
  });

  it('registrations still expire 20 minutes after their last REGISTER', () => {
    const echo = server();
    register(echo, 0, transportAddress('192.0.2.1', 40000));
    const kept = register(echo, 0, transportAddress('192.0.2.1', 40001));
    register(echo, 600_000, transportAddress('192.0.2.1', 40001), kept.token);
    register(echo, 1_200_000, transportAddress('192.0.2.9', 40000));
    expect(echo.registrationCount).toBe(2);
    expect(echo.sourceCount).toBe(2);
  });

  it('bounds pending probes per source: past 256 it answers BUSY source-limit, and another source still gets its probes', () => {
    const echo = server({ maxProbesPerRegistration: 10_000 });
    const from = transportAddress('192.0.2.1', 40000);
    const { token, answer } = register(echo, 0, from);
    const cookie = (answer as { cookie: Uint8Array }).cookie;
    const request = (at: number) => ask(echo, at, { type: 'probe-request', token, cookie, via: 'same', delayMs: 600_000, nonce }, from);
    for (let i = 0; i < 128; i += 1) expect(request(1 + i)).toMatchObject({ type: 'probe-ack', accepted: true });
    expect(echo.pendingProbeCount).toBe(256);
    expect(request(200)).toMatchObject({ type: 'busy', token, reason: 'source-limit' });
    const other = transportAddress('192.0.2.2', 40000);
    const otherRegistration = register(echo, 300, other);
    expect(ask(echo, 300, { type: 'probe-request', token: otherRegistration.token, cookie: (otherRegistration.answer as { cookie: Uint8Array }).cookie, via: 'same', delayMs: 0, nonce }, other)).toMatchObject({ accepted: true });
    // Once sent, the probes no longer count.
    echo.handleTimeout(600_200);
    expect(echo.pendingProbeCount).toBe(0);
    expect(request(600_300)).toMatchObject({ type: 'probe-ack', accepted: true });
  });

  it('answers BUSY probes-full when the whole probe queue is full', () => {
    const echo = server({ maxPendingProbes: 4 });
    const sources = [1, 2, 3].map((i) => transportAddress(`192.0.2.${i}`, 40000));
    const answers = sources.map((from, i) => {
      const { token, answer } = register(echo, 0, from);
      return ask(echo, 10, { type: 'probe-request', token, cookie: (answer as { cookie: Uint8Array }).cookie, via: 'same', delayMs: 5000 + i, nonce }, from);
    });
    expect(answers.map((a) => (typeof a === 'string' ? a : a.type))).toEqual(['probe-ack', 'probe-ack', 'busy']);
    // Room comes when the first queued probe leaves, 5000 ms after it was asked for at 10 ms.
    expect(answers[2]).toMatchObject({ reason: 'probes-full', retryAfterMs: 5000 });
  });

  it('sends the probes in time order from its heap, whatever order they were asked in', () => {
    const echo = server({ probeCopies: 1, maxProbesPerRegistration: 10_000 });
    const from = transportAddress('192.0.2.1', 40000);
    const { token, answer } = register(echo, 0, from);
    const cookie = (answer as { cookie: Uint8Array }).cookie;
    const delays = [5000, 100, 2500, 100, 9000, 1, 7777, 4000];
    delays.forEach((delayMs, i) => ask(echo, 0, { type: 'probe-request', token, cookie, via: 'same', delayMs, nonce: new Uint8Array(8).fill(i) }, from));
    const sent: number[] = [];
    for (let at = echo.nextTimeoutMs(); at !== undefined; at = echo.nextTimeoutMs()) {
      for (const action of echo.handleTimeout(at)) {
        const probe = action.type === 'send' ? decodeEchoMessage(action.bytes) : undefined;
        if (probe?.type === 'probe') sent.push(delays[probe.nonce[0]!]!);
      }
    }
    expect(sent).toEqual([...delays].sort((a, b) => a - b));
  });

  it('answers a rate-limited REGISTER with BUSY rate-limited (once a second), plain datagrams with silence; --rate-limit 0 turns it off', () => {
    const limited = server({ rateLimit: { packetsPerSecond: 1, burst: 2 } });
    const from = transportAddress('192.0.2.1', 40000);
    expect(register(limited, 0, from).answer).toMatchObject({ type: 'registered' });
    expect(register(limited, 0, from).answer).toMatchObject({ type: 'registered' });
    expect(register(limited, 0, from).answer).toMatchObject({ type: 'busy', reason: 'rate-limited', retryAfterMs: 1000 });
    expect(register(limited, 0, from).answer).toBe('rate-limited');
    expect(limited.handleDatagram(0, new Uint8Array([1, 2, 3]), from, MAIN)).toEqual([{ type: 'ignore', reason: 'rate-limited' }]);
    const unlimited = server({ rateLimit: 'off' });
    for (let i = 0; i < 2000; i += 1) expect(register(unlimited, 0, transportAddress('192.0.2.1', 40000 + (i % 200))).answer).not.toBe('rate-limited');
  });

  it('refuses nonsense limits with a clear error', () => {
    expect(() => server({ maxSources: 0 })).toThrow('maxSources must be a whole number ≥ 1, not 0');
    expect(() => server({ maxSources: 50_000_000 })).toThrow('maxSources must be at most 1048576, not 50000000');
  });
});
