import { describe, expect, it } from '@jest/globals';
import type { GatewayReport } from '../../src/api/gateway.js';
import { GATEWAY_EXPECT_KEYS } from '../../src/cli/commands/gateway.js';
import { checkExpectations, parseExpectations } from '../../src/cli/expect.js';
import { gatewayHeadline, renderGatewayText } from '../../src/cli/render/gateway-text.js';

const silent = (reason: string) => ({ available: false, externalAddress: null, epoch: null, resultCode: null, reason, rttMs: null });

const report = (overrides: Partial<GatewayReport> = {}): GatewayReport => ({
  schema: 'natscope.gateway/1',
  gateway: '192.168.1.1',
  localAddress: '192.168.1.20',
  upnp: { available: true, connected: true, externalAddress: '192.0.3.11', connectionStatus: 'Connected', deviceName: 'Home router', manufacturer: 'Acme', model: 'R1 2', location: 'http://192.168.1.1:5000/rootDesc.xml', serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:2', controlUrl: 'http://192.168.1.1:5000/ctl/IPConn', reason: 'UPnP-IGD answers: WANIPConnection:2, external address 192.0.3.11' },
  natPmp: { ...silent('no NAT-PMP answer from 192.168.1.1:5351 in 800 ms (3 requests)'), canMap: null },
  pcp: { ...silent('no PCP answer from 192.168.1.1:5351 in 800 ms (1 request; RFC 6887 waits 3 s before resending)'), resultName: null },
  verify: null,
  doubleNat: false,
  carrierNat: false,
  hops: null,
  reasons: ["the router's external address (upnp) is 192.0.3.11, a public address"],
  durationMs: 812,
  ...overrides,
});

describe('renderGatewayText', () => {
  it('fits 80 columns and says in one line what the router offers', () => {
    const text = renderGatewayText(report(), 80);
    for (const line of text.split('\n')) expect([...line].length).toBeLessThanOrEqual(80);
    expect(text.split('\n')[0]).toBe('Your router (192.168.1.1) can open ports for programs with UPnP.');
    expect(text).toContain('UPnP device: Home router, Acme, R1 2');
    expect(text).toContain('Double NAT: no; carrier-grade NAT: no');
  });

  it('shows unknown verdicts as "unknown" and a carrier NAT in the headline', () => {
    expect(renderGatewayText(report({ doubleNat: null, carrierNat: null }), 80)).toContain('Double NAT: unknown; carrier-grade NAT: unknown');
    expect(gatewayHeadline(report({ doubleNat: true, carrierNat: true }))).toMatch(/behind your provider's carrier-grade NAT: ports it opens are not reachable/);
  });

  it('says when no protocol answers at all', () => {
    const none = report({ upnp: { ...report().upnp, available: false, connected: null, externalAddress: null } });
    expect(gatewayHeadline(none)).toBe('Your router (192.168.1.1) answers none of UPnP, NAT-PMP or PCP: programs cannot ask it to open a port.');
  });

  it('tells the mapping test outcome, its cleanup and the control', () => {
    const text = renderGatewayText(
      report({
        verify: { protocol: 'upnp', internalPort: 40000, externalAddress: '192.0.3.11', externalPort: 40000, lifetimeSeconds: 30, observedAddress: '192.0.3.11:40000', probeVia: 'alternate-address', inboundArrived: true, mappingRemoved: true, arrivedWithoutMapping: false, reason: 'it arrived', refusals: [] },
      }),
      80,
    ).replace(/\s+/g, ' ');
    expect(text).toContain('Mapping test (upnp, external port 40000): traffic ARRIVED through the mapping.');
    expect(text).toContain('The test mapping was deleted again.');
    expect(text).toContain('so it was the mapping that let traffic in');
  });
});

describe('gateway --expect', () => {
  it('reaches into objects with dotted keys, and takes "pcp" for "pcp.available" on the command', () => {
    const expectations = parseExpectations(['natPmp.available=false', 'upnp.externalAddress=192.0.3.11', 'doubleNat=false'], GATEWAY_EXPECT_KEYS);
    const results = checkExpectations(report() as unknown as Record<string, unknown>, expectations);
    expect(results.map((r) => r.met)).toEqual([true, true, true]);
    expect(() => parseExpectations(['natPmp.nonsense=1'], GATEWAY_EXPECT_KEYS)).toThrow(/no such field/);
  });
});
