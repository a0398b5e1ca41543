import { describe, expect, it } from '@jest/globals';
import { transportAddress } from '../../src/codec/transport-address.js';
import { runDatagramServer } from '../../src/platform/udp-server.js';
import { punchAndMeasure, punchDeadlineMs } from '../../src/probe/punch.js';
import { decodeEchoMessage, encodeEchoMessage } from '../../src/protocol/echo-messages.js';
import { RFC8489_DEFAULT_POLICY } from '../../src/protocol/transaction.js';
import { EchoServerProtocol } from '../../src/protocol/echo-server.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { VirtualNetwork, type SimulatedNatConfig } from '../helpers/virtual-network.js';

const SERVER_IP = '203.0.113.1';
const CLIENT_IP = '192.0.2.10';

async function punchThrough(nat: Omit<SimulatedNatConfig, 'publicIp' | 'insideIps'>, options: { maxLifetimeMs?: number; sustained?: boolean; filtering?: boolean } = {}) {
  const clock = new FakeClock();
  const network = new VirtualNetwork(clock, { publicIp: '198.51.100.100', insideIps: [CLIENT_IP], ...nat }, 5);
  const echo = await runDatagramServer(new EchoServerProtocol({ address: SERVER_IP, port: 9199, alternatePort: 9200 }), clock, () => {}, network.host(SERVER_IP));
  const evidence = await clock.run(
    punchAndMeasure({
      network: network.host(CLIENT_IP),
      clock,
      server: transportAddress(SERVER_IP, 9199),
      alternatePort: 9200,
      family: 'IPv4',
      measureSustained: options.sustained ?? false,
      measureFilteringLifetime: options.filtering ?? false,
      search: { maxLifetimeMs: options.maxLifetimeMs ?? 600_000 },
    }),
    5_000_000,
  );
  await echo.close();
  return { evidence, elapsedMs: clock.nowMs(), peakMappings: network.peakMappings };
}

describe('punchAndMeasure over a simulated NAT (fake clock)', () => {
  it.each([5, 30, 120])('punches, and finds a %i s mapping lifetime within tolerance in at most 1.25 L + 5 s', async (seconds) => {
    const lifetimeMs = seconds * 1000;
    const { evidence, elapsedMs, peakMappings } = await punchThrough({ mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', mappingTimeoutMs: lifetimeMs });
    expect(evidence.punched).toBe(true);
    expect(evidence.mappedAddress?.address).toBe('198.51.100.100');
    expect(evidence.alternatePortReachable).toBe(false);
    const { lowerMs, upperMs } = evidence.lifetime!;
    expect(lowerMs).toBeLessThanOrEqual(lifetimeMs);
    expect(upperMs).not.toBeNull();
    expect(upperMs!).toBeGreaterThanOrEqual(lifetimeMs - 50);
    expect(upperMs! - lowerMs).toBeLessThanOrEqual(Math.max(1000, 0.02 * lifetimeMs));
    expect(elapsedMs).toBeLessThanOrEqual(1.25 * lifetimeMs + 5000);
    expect(peakMappings).toBeLessThanOrEqual(66); // 64 for the search, the punch socket and the control socket
  });

  it('sees the alternate port get in through an endpoint-independent filter', async () => {
    const { evidence } = await punchThrough({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', mappingTimeoutMs: 5000 });
    expect(evidence.alternatePortReachable).toBe(true);
  });

  it('measures the sustained-traffic lifetime alongside, sharing the quota', async () => {
    const { evidence, peakMappings } = await punchThrough({ mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', mappingTimeoutMs: 10_000 }, { sustained: true });
    expect(evidence.sustainedLifetime?.upperMs).toBeGreaterThanOrEqual(9_950);
    expect(evidence.sustainedLifetime?.lowerMs).toBeLessThanOrEqual(10_000);
    expect(peakMappings).toBeLessThanOrEqual(66);
  });

  it('measures how long the other port may get in when the filter lets it', async () => {
    const { evidence } = await punchThrough({ mapping: 'endpoint-independent', filtering: 'address-dependent', mappingTimeoutMs: 20_000 }, { filtering: true });
    expect(evidence.alternatePortReachable).toBe(true);
    expect(evidence.filteringLifetime?.lowerMs).toBeLessThanOrEqual(20_000);
    expect(evidence.filteringLifetime?.upperMs).toBeGreaterThanOrEqual(19_950);
    expect(evidence.filteringLifetime!.upperMs! - evidence.filteringLifetime!.lowerMs).toBeLessThanOrEqual(1000);
  });

  it('does not measure the other port when the filter drops it', async () => {
    const { evidence } = await punchThrough({ mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', mappingTimeoutMs: 5_000 }, { filtering: true });
    expect(evidence.alternatePortReachable).toBe(false);
    expect(evidence.filteringLifetime).toBeUndefined();
  });

  it('reports a hole still open at the bound', async () => {
    const { evidence } = await punchThrough({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', mappingTimeoutMs: 10 * 60_000 }, { maxLifetimeMs: 20_000 });
    expect(evidence.lifetime?.upperMs).toBeNull();
    expect(evidence.lifetime?.lowerMs).toBeGreaterThanOrEqual(20_000);
  });

  it('says punched is unknown, with the reason, when UDP is blocked (a silent server could be down)', async () => {
    const { evidence } = await punchThrough({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', blockUdp: true });
    expect(evidence).toMatchObject({ punched: null });
    expect(evidence.reason).toMatch(/no answer from 203\.0\.113\.1:9199 after 7 tries \(39\.5 s\); a single server cannot tell a blocked network from a server that is down/);
  });
});

describe('punchAndMeasure against an echo server that refuses or dies (fake clock)', () => {
  const SERVER = transportAddress(SERVER_IP, 9199);

  it('reports "server busy (registrations-full)" when the server answers BUSY, never "blocked"', async () => {
    const clock = new FakeClock();
    const network = new VirtualNetwork(clock, undefined, 5);
    // An in-memory echo server at its registration limit: every REGISTER gets BUSY.
    const server = await network.host(SERVER_IP).bind('IPv4', SERVER_IP, 9199);
    server.onDatagram((bytes, from) => {
      const message = decodeEchoMessage(bytes);
      if (message?.type === 'register') server.send(encodeEchoMessage({ type: 'busy', token: message.token, reason: 'registrations-full', retryAfterMs: 30_000 }), from);
    });
    const evidence = await clock.run(punchAndMeasure({ network: network.host(CLIENT_IP), clock, server: SERVER, family: 'IPv4' }));
    expect(evidence).toMatchObject({ punched: null, busy: { reason: 'registrations-full', retryAfterMs: 30_000 } });
    expect(evidence.reason).toMatch(/the echo server 203\.0\.113\.1:9199 is busy \(registrations-full\) and asks to retry after 30\.0 s/);
    expect(clock.nowMs()).toBeLessThan(100);
  });

  it('says punched=false when the server answers the control socket but not through the punched hole', async () => {
    const clock = new FakeClock();
    const network = new VirtualNetwork(clock, undefined, 5);
    const server = await network.host(SERVER_IP).bind('IPv4', SERVER_IP, 9199);
    let registrations = 0;
    server.onDatagram((bytes, from) => {
      const message = decodeEchoMessage(bytes);
      // Answers only the second socket to register (the control socket): the punch socket's answers are "dropped".
      if (message?.type === 'register' && from.port === 40001) {
        registrations += 1;
        server.send(encodeEchoMessage({ type: 'registered', token: message.token, cookie: new Uint8Array(16), observed: from }), from);
      }
    });
    const evidence = await clock.run(punchAndMeasure({ network: network.host(CLIENT_IP), clock, server: SERVER, family: 'IPv4' }));
    expect(registrations).toBeGreaterThan(0);
    expect(evidence.punched).toBe(false);
    expect(evidence.reason).toBeUndefined();
  });

  it('stops the search and reports the bracket so far when the echo server dies mid-run', async () => {
    const clock = new FakeClock();
    const network = new VirtualNetwork(clock, { publicIp: '198.51.100.100', insideIps: [CLIENT_IP], mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', mappingTimeoutMs: 120_000 }, 5);
    const echo = await runDatagramServer(new EchoServerProtocol({ address: SERVER_IP, port: 9199, alternatePort: 9200 }), clock, () => {}, network.host(SERVER_IP));
    clock.setTimer(14_000, () => void echo.close());
    const deadlineMs = punchDeadlineMs({ maxLifetimeMs: 600_000, maxSockets: 64, sustainedTrafficMs: 0, filtering: false, policy: RFC8489_DEFAULT_POLICY });
    const evidence = await clock.run(
      punchAndMeasure({ network: network.host(CLIENT_IP), clock, server: SERVER, alternatePort: 9200, family: 'IPv4', measureSustained: false, deadlineMs }),
      5_000_000,
    );
    expect(evidence.punched).toBe(true);
    expect(evidence.reason).toMatch(/the echo server 203\.0\.113\.1:9199 stopped answering at 1[0-4]\.\d s/);
    expect(evidence.lifetime?.stoppedEarly).toBe(evidence.reason);
    expect(evidence.lifetime?.upperMs).toBeNull();
    expect(evidence.lifetime?.lowerMs).toBeGreaterThanOrEqual(4000);
    // Ends within a few control timeouts of the death, far inside the deadline.
    expect(clock.nowMs()).toBeLessThan(14_000 + 3 * 40_000);
  });

  it('ends at its deadline with the bracket so far, however long the holes live', async () => {
    const clock = new FakeClock();
    const network = new VirtualNetwork(clock, { publicIp: '198.51.100.100', insideIps: [CLIENT_IP], mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', mappingTimeoutMs: 500_000 }, 5);
    const echo = await runDatagramServer(new EchoServerProtocol({ address: SERVER_IP, port: 9199, alternatePort: 9200 }), clock, () => {}, network.host(SERVER_IP));
    const evidence = await clock.run(
      punchAndMeasure({ network: network.host(CLIENT_IP), clock, server: SERVER, family: 'IPv4', measureSustained: false, deadlineMs: 60_000 }),
      5_000_000,
    );
    await echo.close();
    expect(evidence.reason).toBe('the run reached its deadline of 60 s');
    expect(evidence.lifetime?.lowerMs).toBeGreaterThan(0);
    expect(clock.nowMs()).toBeLessThanOrEqual(60_100);
  });
});
