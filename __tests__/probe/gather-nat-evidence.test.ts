import { describe, expect, it } from '@jest/globals';
import { transportAddress } from '../../src/codec/transport-address.js';
import { classifyNat } from '../../src/diagnose/classify-nat.js';
import { runDatagramServer } from '../../src/platform/udp-server.js';
import { gatherNatEvidence } from '../../src/probe/gather-nat-evidence.js';
import { StunServerProtocol } from '../../src/protocol/stun-server.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { VirtualNetwork, type SimulatedNatConfig } from '../helpers/virtual-network.js';

const SERVER_IP = '203.0.113.1';
const SERVER_ALT_IP = '203.0.113.2';
const CLIENT_IP = '192.0.2.10';

type Nat = Omit<SimulatedNatConfig, 'publicIp' | 'insideIps'>;

/** Runs the full test suite over a simulated NAT on a fake clock; returns the verdict and the fake time it took. */
async function classifyThrough(nat: Nat | undefined, options: { rfc5780?: boolean; seed?: number } = {}) {
  const clock = new FakeClock();
  const network = new VirtualNetwork(clock, nat === undefined ? undefined : { publicIp: '198.51.100.100', insideIps: [CLIENT_IP], ...nat }, 1, options.seed);
  // The server's two addresses live on one virtual host: bind() takes explicit addresses.
  const serverHost = network.host(SERVER_IP);
  const rfc5780 = options.rfc5780 ?? true;
  const protocol = new StunServerProtocol({
    primaryAddress: SERVER_IP,
    primaryPort: 3478,
    ...(rfc5780 ? { alternateAddress: SERVER_ALT_IP, alternatePort: 3479 } : {}),
    rateLimit: { packetsPerSecond: 1e6, burst: 1e6 },
  });
  const server = await runDatagramServer(protocol, clock, () => {}, serverHost);
  const evidence = await clock.run(
    gatherNatEvidence({ network: network.host(CLIENT_IP), clock, servers: [transportAddress(SERVER_IP, 3478)], family: 'IPv4' }),
  );
  await server.close();
  return { verdict: classifyNat(evidence), evidence, elapsedMs: clock.nowMs() };
}

describe('gatherNatEvidence over a simulated NAT (fake clock)', () => {
  it('finds no NAT and endpoint-independent everything without a NAT, in a few round trips', async () => {
    const { verdict, elapsedMs } = await classifyThrough(undefined);
    expect(verdict).toMatchObject({ nat: false, mapping: 'endpoint-independent', filtering: 'endpoint-independent', rfc3489: 'open-internet', hairpinning: true });
    expect(elapsedMs).toBeLessThan(20);
  });

  const cases: Array<[string, Nat, object]> = [
    ['full cone', { mapping: 'endpoint-independent', filtering: 'endpoint-independent', hairpinning: true }, { rfc3489: 'full-cone', hairpinning: true }],
    ['restricted cone', { mapping: 'endpoint-independent', filtering: 'address-dependent' }, { rfc3489: 'restricted-cone', hairpinning: false }],
    ['port-restricted cone', { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', portAllocation: 'preserve' }, { rfc3489: 'port-restricted-cone', portAllocation: expect.objectContaining({ pattern: 'preserved' }) }],
    ['address-dependent mapping', { mapping: 'address-dependent', filtering: 'address-dependent' }, { mapping: 'address-dependent', rfc3489: 'symmetric' }],
    ['symmetric', { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', portAllocation: 'random' }, { mapping: 'address-and-port-dependent', rfc3489: 'symmetric', portAllocation: expect.objectContaining({ pattern: 'random' }) }],
    ['sequential ports', { mapping: 'endpoint-independent', filtering: 'endpoint-independent', portAllocation: 'sequential' }, { portAllocation: expect.objectContaining({ pattern: 'sequential', delta: 1 }) }],
  ];
  it.each(cases)('classifies a %s NAT', async (_name, nat, expected) => {
    const { verdict } = await classifyThrough(nat);
    expect(verdict).toMatchObject({ nat: true, mapping: nat.mapping, filtering: nat.filtering, ...expected });
  });

  it('reaches a filtering verdict whose answer is "no response" in under a second of fake time (adaptive RTO)', async () => {
    const { verdict, elapsedMs } = await classifyThrough({ mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' });
    expect(verdict.filtering).toBe('address-and-port-dependent');
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('says unknown, not udp-blocked, when the one server tried stays silent (a down server looks the same)', async () => {
    const { verdict, elapsedMs } = await classifyThrough({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', blockUdp: true });
    expect(verdict.rfc3489).toBe('unknown');
    expect(verdict.reasons.rfc3489).toMatch(/no answer from 203\.0\.113\.1:3478 after 14 tries .*a single server cannot tell a blocked network from a server that is down — pass a second server/);
    // Seven plain requests, and from the third try a twin with a zero CHANGE-REQUEST that runs its own 39.5 s.
    expect(elapsedMs).toBe(1500 + 39_500);
  });

  it('against a server with one address: mapping and filtering unknown with reasons, never guessed', async () => {
    const { verdict } = await classifyThrough({ mapping: 'endpoint-independent', filtering: 'endpoint-independent' }, { rfc5780: false });
    expect(verdict).toMatchObject({ nat: true, mapping: 'unknown', filtering: 'unknown', rfc3489: 'unknown' });
    expect(verdict.reasons.filtering).toMatch(/needs an RFC 5780 server/);
  });

  it('does not read lost tries as a filter: once loss was seen, a silent filtering test is repeated from a fresh socket', async () => {
    // At 40% loss each way all 7 tries of one test fail about once in 23: a single silent run would often say
    // "address-dependent" for a NAT that filters nothing.
    let wrong = 0;
    let confirmed = 0;
    for (let run = 0; run < 60; run += 1) {
      const { verdict, evidence } = await classifyThrough({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', loss: 0.4 }, { seed: 5000 + run });
      if (verdict.filtering !== 'unknown' && verdict.filtering !== 'endpoint-independent') wrong += 1;
      if (evidence.filteringTestII?.outcome === 'response' || evidence.filteringTestIII?.outcome === 'response') confirmed += 1;
    }
    expect(wrong).toBe(0);
    expect(confirmed).toBeGreaterThan(50);
  }, 60_000);

  it('is never wrong at 20% loss each way, over 40 runs of each NAT type', async () => {
    const natTypes: Nat[] = [
      { mapping: 'endpoint-independent', filtering: 'endpoint-independent' },
      { mapping: 'endpoint-independent', filtering: 'address-dependent' },
      { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' },
      { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent' },
    ];
    let conclusive = 0;
    let runs = 0;
    for (const nat of natTypes) {
      for (let run = 0; run < 40; run += 1) {
        const { verdict } = await classifyThrough({ ...nat, loss: 0.2 }, { seed: 1000 + runs });
        runs += 1;
        if (verdict.mapping !== 'unknown') expect(verdict.mapping).toBe(nat.mapping);
        if (verdict.filtering !== 'unknown') expect(verdict.filtering).toBe(nat.filtering);
        if (verdict.mapping !== 'unknown' && verdict.filtering !== 'unknown') conclusive += 1;
      }
    }
    expect(conclusive / runs).toBeGreaterThanOrEqual(0.9);
  }, 30_000);
});
