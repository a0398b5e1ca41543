import { describe, expect, it } from '@jest/globals';
import { transportAddress } from '../../src/codec/transport-address.js';
import { decodeEchoMessage, encodeEchoMessage, ECHO_MESSAGE_BYTES } from '../../src/protocol/echo-messages.js';
import { EchoServerProtocol } from '../../src/protocol/echo-server.js';
import type { ServerSocketKey } from '../../src/protocol/stun-server.js';
import { seededRandom } from '../helpers/seeded-random.js';

const MAIN: ServerSocketKey = { address: 'primary', port: 'primary' };
const probeSocket = transportAddress('198.51.100.7', 40000);
const controlSocket = transportAddress('198.51.100.7', 40001);
const token = new Uint8Array(16).fill(7);
const nonce = new Uint8Array(8).fill(9);
const server = () => new EchoServerProtocol({ address: '203.0.113.1', port: 9199, alternatePort: 9200, secret: new Uint8Array(32).fill(1) });

function register(echo: EchoServerProtocol, at = 0) {
  const [reply] = echo.handleDatagram(at, encodeEchoMessage({ type: 'register', token }), probeSocket, MAIN);
  if (reply?.type !== 'send') throw new Error('no reply to REGISTER');
  const message = decodeEchoMessage(reply.bytes);
  if (message?.type !== 'registered') throw new Error('reply is not REGISTERED');
  return { reply, message };
}

describe('EchoServerProtocol', () => {
  it('echoes a plain datagram from the socket it came in on', () => {
    const actions = server().handleDatagram(0, new TextEncoder().encode('hello'), probeSocket, { address: 'primary', port: 'alternate' });
    expect(actions).toEqual([{ type: 'send', via: { address: 'primary', port: 'alternate' }, to: probeSocket, bytes: new TextEncoder().encode('hello') }]);
  });

  it('answers REGISTER from the same socket with the observed address and a cookie, no larger than the request', () => {
    const { reply, message } = register(server());
    expect(reply.via).toEqual(MAIN);
    expect(reply.to).toEqual(probeSocket);
    expect(message.observed).toEqual(probeSocket);
    expect(reply.bytes.length).toBe(ECHO_MESSAGE_BYTES);
  });

  it('sends probes to the registered socket only, after the delay asked, from the socket asked', () => {
    const echo = server();
    const { message } = register(echo);
    const request = encodeEchoMessage({ type: 'probe-request', token, cookie: message.cookie, via: 'alternate-port', delayMs: 5000, nonce });
    const now = echo.handleDatagram(1000, request, controlSocket, MAIN);
    expect(now).toHaveLength(1);
    expect(now[0]).toMatchObject({ type: 'send', to: controlSocket });
    expect(decodeEchoMessage((now[0] as { bytes: Uint8Array }).bytes)).toMatchObject({ type: 'probe-ack', accepted: true });
    expect(echo.nextTimeoutMs()).toBe(6000);
    expect(echo.handleTimeout(5999)).toEqual([]);
    const probes = [...echo.handleTimeout(6000), ...echo.handleTimeout(6020)];
    expect(probes).toHaveLength(2);
    for (const probe of probes) {
      expect(probe).toMatchObject({ type: 'send', to: probeSocket, via: { address: 'primary', port: 'alternate' } });
      expect(decodeEchoMessage((probe as { bytes: Uint8Array }).bytes)).toMatchObject({ type: 'probe' });
    }
  });

  it('refuses a probe request with a wrong cookie (a spoofed registration cannot be aimed at a victim)', () => {
    const echo = server();
    register(echo);
    const request = encodeEchoMessage({ type: 'probe-request', token, cookie: new Uint8Array(16), via: 'same', delayMs: 0, nonce });
    const actions = echo.handleDatagram(0, request, controlSocket, MAIN);
    expect(actions).toHaveLength(1);
    expect(decodeEchoMessage((actions[0] as { bytes: Uint8Array }).bytes)).toMatchObject({ type: 'probe-ack', accepted: false });
    expect(echo.nextTimeoutMs()).toBeUndefined();
  });

  it('refuses probes for an unknown or expired token, too long a delay, or a socket it does not have', () => {
    const echo = new EchoServerProtocol({ address: '203.0.113.1', port: 9199, secret: new Uint8Array(32), registrationTtlMs: 1000, maxProbeDelayMs: 10_000 });
    const { message } = register(echo);
    const ask = (at: number, via: 'same' | 'alternate-port', delayMs: number) =>
      decodeEchoMessage((echo.handleDatagram(at, encodeEchoMessage({ type: 'probe-request', token, cookie: message.cookie, via, delayMs, nonce }), controlSocket, MAIN)[0] as { bytes: Uint8Array }).bytes);
    expect(ask(0, 'same', 20_000)).toMatchObject({ accepted: false });
    expect(ask(0, 'alternate-port', 0)).toMatchObject({ accepted: false });
    expect(ask(5000, 'same', 0)).toMatchObject({ accepted: false });
  });

  it('sends at most three datagrams of its size for one probe request, and bounds probes per registration', () => {
    const echo = new EchoServerProtocol({ address: '203.0.113.1', port: 9199, secret: new Uint8Array(32), maxProbesPerRegistration: 3 });
    const { message } = register(echo);
    let sentBytes = 0;
    let receivedBytes = 0;
    for (let i = 0; i < 10; i += 1) {
      const request = encodeEchoMessage({ type: 'probe-request', token, cookie: message.cookie, via: 'same', delayMs: 0, nonce });
      receivedBytes += request.length;
      for (const action of [...echo.handleDatagram(i * 100, request, controlSocket, MAIN), ...echo.handleTimeout(i * 100 + 50)]) {
        if (action.type === 'send') sentBytes += action.bytes.length;
      }
    }
    expect(sentBytes).toBeLessThanOrEqual(3 * receivedBytes);
    // 3 accepted × (ack + 2 probes) + 7 refused × ack
    expect(sentBytes).toBe((3 * 3 + 7) * ECHO_MESSAGE_BYTES);
  });

  it('ignores malformed control messages and survives random input', () => {
    const echo = server();
    const bad = encodeEchoMessage({ type: 'register', token });
    bad[4] = 99;
    expect(echo.handleDatagram(0, bad, probeSocket, MAIN)).toEqual([{ type: 'ignore', reason: 'malformed' }]);
    expect(echo.handleDatagram(0, new Uint8Array(0), probeSocket, MAIN)).toEqual([{ type: 'ignore', reason: 'empty' }]);
    const random = seededRandom(7);
    for (let i = 0; i < 5000; i += 1) {
      const bytes = encodeEchoMessage({ type: 'probe-request', token, cookie: token, via: 'same', delayMs: 0, nonce });
      bytes[4 + Math.floor(random() * 60)] = Math.floor(random() * 256);
      expect(() => echo.handleDatagram(i, bytes, probeSocket, MAIN)).not.toThrow();
    }
  });
});
