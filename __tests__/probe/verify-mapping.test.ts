import { afterEach, describe, expect, it } from '@jest/globals';
import { encodeNatPmpResponse } from '../../src/codec/natpmp.js';
import { transportAddress } from '../../src/codec/transport-address.js';
import { startEchoServer } from '../../src/cli/commands/serve-echo.js';
import { boundedHttp } from '../../src/platform/bounded-http.js';
import { nodeUdpNetwork } from '../../src/platform/node-udp.js';
import { systemClock } from '../../src/platform/system-clock.js';
import type { RunningServer } from '../../src/platform/udp-server.js';
import type { GatewayFindings } from '../../src/probe/gateway-probe.js';
import { mappingCandidates, verifyMapping } from '../../src/probe/verify-mapping.js';
import { startFakeRouter, type FakeRouter } from '../helpers/fake-router.js';

let router: FakeRouter | undefined;
let echo: RunningServer | undefined;
afterEach(async () => {
  await router?.close();
  await echo?.close();
  router = undefined;
  echo = undefined;
});

const findings = (natPmpExternal: string | null, canMap: boolean): GatewayFindings => ({
  natPmp: { available: true, canMap, externalAddress: natPmpExternal, epoch: 1, resultCode: canMap ? 0 : 3, reason: '', rttMs: 1 },
  pcp: { available: false, externalAddress: null, epoch: null, resultCode: null, resultName: null, reason: '', rttMs: null },
  upnp: { available: false, connected: null, externalAddress: null, connectionStatus: null, deviceName: null, manufacturer: null, model: null, location: null, serviceType: null, controlUrl: null, reason: '' },
});

/** A NAT-PMP router on loopback that grants every mapping on the same port and confirms deletes. */
async function grantingRouter(resultCode = 0): Promise<FakeRouter> {
  return startFakeRouter({
    portMapping: (request) => {
      const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
      if (request[1] !== 1) return undefined;
      return encodeNatPmpResponse({ type: 'map', protocol: 'udp', resultCode, epochSeconds: 5, internalPort: view.getUint16(4), externalPort: view.getUint16(6) === 0 ? 0 : view.getUint16(4), lifetimeSeconds: view.getUint32(8) });
    },
  });
}

/** The echo server on 127.0.0.1 (main and alternate port) and 127.0.0.2 (alternate address), on random high ports. */
async function startEcho(): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    try {
      echo = await startEchoServer({ address: '127.0.0.1', port, alternatePort: port + 1, alternateAddress: '127.0.0.2' }, () => {});
      return port;
    } catch {
      // taken: another port
    }
  }
  throw new Error('no free port pair for the echo server');
}

/** The lifetimes of the NAT-PMP mapping requests the router saw (0 = delete). */
const mappingLifetimes = (r: FakeRouter): number[] => r.portMappingRequests.filter((q) => q[1] === 1).map((q) => new DataView(q.buffer, q.byteOffset).getUint32(8));

describe('verifyMapping on loopback', () => {
  it('orders candidates: protocols that can map first, then those that merely answer', () => {
    expect(mappingCandidates(findings('1.2.3.4', true))).toEqual(['natPmp']);
    const pcpAndUpnp: GatewayFindings = { ...findings(null, false), pcp: { ...findings(null, false).pcp, available: true, resultCode: 0 } };
    expect(mappingCandidates(pcpAndUpnp)).toEqual(['pcp', 'natPmp']);
  });

  it('maps with a 30 s lease, sees the probe arrive, deletes the mapping, and says the control proves nothing without a NAT', async () => {
    router = await grantingRouter();
    const port = await startEcho();
    const report = await verifyMapping(nodeUdpNetwork, systemClock, boundedHttp, {
      gateway: '127.0.0.1',
      clientAddress: '127.0.0.1',
      echoServer: transportAddress('127.0.0.1', port),
      findings: findings('127.0.0.1', true),
      natPmpPort: router.natPmpPort,
      probeWaitMs: 500,
    });
    expect(report).toMatchObject({ protocol: 'natPmp', lifetimeSeconds: 30, inboundArrived: true, probeVia: 'alternate-address', mappingRemoved: true, arrivedWithoutMapping: true });
    expect(report.reason).toMatch(/lets unsolicited traffic in anyway/);
    expect(mappingLifetimes(router)).toEqual([30, 0]);
  });

  it('reports the router refusal and makes no mapping', async () => {
    router = await grantingRouter(3);
    const port = await startEcho();
    const report = await verifyMapping(nodeUdpNetwork, systemClock, boundedHttp, {
      gateway: '127.0.0.1',
      clientAddress: '127.0.0.1',
      echoServer: transportAddress('127.0.0.1', port),
      findings: findings(null, false),
      natPmpPort: router.natPmpPort,
      probeWaitMs: 300,
    });
    expect(report).toMatchObject({ protocol: null, inboundArrived: false, mappingRemoved: null, observedAddress: expect.stringMatching(/^127\.0\.0\.1:/) });
    expect(report.reason).toMatch(/natPmp: NAT-PMP answers with result 3 \(Network Failure\)/);
    expect(mappingLifetimes(router)).toEqual([30]);
  });

  it('still deletes the mapping when interrupted (Ctrl-C) while the echo server is silent', async () => {
    router = await grantingRouter();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const started = performance.now();
    const report = await verifyMapping(nodeUdpNetwork, systemClock, boundedHttp, {
      gateway: '127.0.0.1',
      clientAddress: '127.0.0.1',
      // Nothing listens there: the registration would retransmit for seconds.
      echoServer: transportAddress('127.0.0.1', router.ssdpPort),
      findings: findings('127.0.0.1', true),
      natPmpPort: router.natPmpPort,
      signal: controller.signal,
    });
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(report).toMatchObject({ protocol: 'natPmp', inboundArrived: null, mappingRemoved: true, reason: expect.stringMatching(/interrupted/) });
    expect(mappingLifetimes(router)).toEqual([30, 0]);
  });
});
