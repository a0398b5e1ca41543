import { describe, expect, it } from '@jest/globals';
import { transportAddress } from '../../src/codec/transport-address.js';
import { runDatagramServer } from '../../src/platform/udp-server.js';
import { punchAndMeasure } from '../../src/probe/punch.js';
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

  it('says not punched when UDP is blocked', async () => {
    const { evidence } = await punchThrough({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', blockUdp: true });
    expect(evidence).toMatchObject({ punched: false });
  });
});
