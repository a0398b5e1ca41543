import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { readFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { labDown, labUp } from '../../src/api/lab.js';
import { MAPPABLE_WAN, portmapPaths, type PortmapProtocol } from '../../src/lab/portmap.js';
import { LAB, LAB_ID } from '../../src/lab/topology.js';
import { checkLabPrerequisites } from '../../src/platform/lab-runner.js';
import { CLI, runCommand, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(240_000);

type Report = Record<string, any>;

/** natscope gateway in client1, as JSON. */
async function gatewayInClient(args: string[] = []): Promise<{ code: number | null; report: Report }> {
  const run = await runCommand('ip', ['netns', 'exec', LAB.client[0], process.execPath, CLI, 'gateway', '--json', ...args], 30_000);
  if (run.stdout.trim() === '') throw new Error(`gateway printed nothing (exit ${run.code}): ${run.stderr}`);
  return { code: run.code, report: JSON.parse(run.stdout) as Report };
}

/** An independent client in client1 (upnpc, natpmpc). */
const inClient = (argv: string[], seconds = 6): string => {
  const result = spawnSync('ip', ['netns', 'exec', LAB.client[0], 'timeout', String(seconds), ...argv], { encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`;
};

/** What miniupnpd holds: its nft DNAT rules and upnpc's list of mappings. */
function leftoverMappings(): { nftDnatRules: number; upnpcEntries: number } {
  const nft = spawnSync('ip', ['netns', 'exec', LAB.nat[0], 'nft', 'list', 'chain', 'inet', 'miniupnpd', 'prerouting_miniupnpd'], { encoding: 'utf8' }).stdout;
  const upnpc = inClient(['upnpc', '-l']);
  return { nftDnatRules: (nft.match(/\bdnat\b/g) ?? []).length, upnpcEntries: (upnpc.match(/^\s*\d+\s+UDP\s+\d+->/gm) ?? []).length };
}

describe('natscope gateway against miniupnpd 2.3.1 in the lab', () => {
  let echo: Service | undefined;
  const up = async (portmap: PortmapProtocol[], carrierNat = false): Promise<void> => {
    await echo?.stop();
    echo = undefined;
    labUp({ preset: 'port-restricted-cone', portmap, carrierNat });
  };
  const startEcho = async (): Promise<void> => {
    echo = await startService('ip', ['netns', 'exec', LAB.public, process.execPath, CLI, 'serve', 'echo', '--address', LAB.serverAddresses[0], '--alt-address', LAB.serverAddresses[1]], /listening on/);
  };
  afterAll(async () => {
    await echo?.stop();
    labDown();
  });

  it.each<[PortmapProtocol[]]>([[['upnp']], [['pmp']], [['pcp']], [['upnp', 'pmp', 'pcp']]])('finds exactly the protocols miniupnpd offers (%j), with its external address, as upnpc and natpmpc do', async (portmap) => {
    checkLabPrerequisites();
    await up(portmap);
    const { code, report } = await gatewayInClient();
    expect(code).toBe(0);
    expect(report.gateway).toBe(LAB.natLan[0]);
    expect(report.upnp.available).toBe(portmap.includes('upnp'));
    expect(report.natPmp.available).toBe(portmap.includes('pmp'));
    expect(report.pcp.available).toBe(portmap.includes('pcp'));
    if (portmap.includes('upnp')) {
      expect(report.upnp).toMatchObject({ connected: true, externalAddress: MAPPABLE_WAN.router, deviceName: 'natscope lab router' });
      expect(inClient(['upnpc', '-s'])).toContain(`ExternalIPAddress = ${MAPPABLE_WAN.router}`);
    } else {
      // upnpc searches 8 s before it gives up.
      expect(inClient(['upnpc', '-s'], 12)).toContain('No IGD UPnP Device found');
    }
    const natpmpc = inClient(['natpmpc', '-g', LAB.natLan[0]]);
    if (portmap.includes('pmp')) {
      expect(report.natPmp).toMatchObject({ canMap: true, externalAddress: MAPPABLE_WAN.router, resultCode: 0 });
      expect(natpmpc).toContain(`Public IP address : ${MAPPABLE_WAN.router}`);
    } else {
      expect(natpmpc).not.toContain('Public IP address');
    }
    if (portmap.includes('pcp')) expect(report.pcp).toMatchObject({ resultName: 'SUCCESS' });
    expect(report.doubleNat).toBe(portmap.includes('upnp') || portmap.includes('pmp') ? false : null);
    // The whole probe is a few hundred ms when the router answers every protocol it has (the budget for silence is 800 ms).
    expect(report.durationMs).toBeLessThan(3_000);
  });

  it.each<[string, PortmapProtocol[]]>([
    ['natPmp', ['upnp', 'pmp', 'pcp']],
    ['pcp', ['pcp']],
    ['upnp', ['upnp']],
  ])('proves a %s mapping on the single NAT lets traffic in, deletes it, and leaves nothing in miniupnpd', async (protocol, portmap) => {
    await up(portmap);
    await startEcho();
    const { code, report } = await gatewayInClient(['--verify', LAB.serverAddresses[0], '--expect', 'verify.inboundArrived=true', '--expect', 'doubleNat=false']);
    expect(code).toBe(0);
    expect(report.verify).toMatchObject({
      protocol,
      lifetimeSeconds: 30,
      externalAddress: MAPPABLE_WAN.router,
      inboundArrived: true,
      arrivedWithoutMapping: false,
      probeVia: 'alternate-address',
      mappingRemoved: true,
    });
    expect(report.verify.observedAddress).toBe(`${MAPPABLE_WAN.router}:${report.verify.externalPort}`);
    expect(report).toMatchObject({ doubleNat: false, carrierNat: false });
    expect(leftoverMappings()).toEqual({ nftDnatRules: 0, upnpcEntries: 0 });
    const leases = portmapPaths(LAB_ID).leases;
    expect(existsSync(leases) ? readFileSync(leases, 'utf8').trim() : '').toBe('');
  });

  it('behind a carrier-grade NAT: the router refuses to map, nothing comes in, and double/carrier NAT are found', async () => {
    await up(['upnp', 'pmp', 'pcp'], true);
    await startEcho();
    const { code, report } = await gatewayInClient(['--verify', LAB.serverAddresses[0]]);
    expect(code).toBe(0);
    // miniupnpd sees 100.64.0.2 (RFC 6598) on its WAN: NAT-PMP result 3, UPnP without an external address.
    expect(report.natPmp).toMatchObject({ available: true, canMap: false, resultCode: 3, externalAddress: null });
    expect(report.natPmp.reason).toMatch(/Network Failure.*behind another NAT/);
    expect(report.upnp).toMatchObject({ available: true, connected: false, externalAddress: null });
    expect(inClient(['natpmpc', '-g', LAB.natLan[0]])).not.toContain('Public IP address');
    expect(inClient(['upnpc', '-s'])).toContain('not connected');
    expect(report.verify).toMatchObject({ protocol: null, inboundArrived: false, mappingRemoved: null, observedAddress: expect.stringMatching(new RegExp(`^${LAB.natWan[0].replace(/\./g, '\\.')}:`)) });
    expect(report.verify.reason).toMatch(/the router made no mapping/);
    expect(report).toMatchObject({ doubleNat: true, carrierNat: true });
    expect(report.reasons.join('\n')).toMatch(/100\.64\.0\.1/);
    expect(leftoverMappings()).toEqual({ nftDnatRules: 0, upnpcEntries: 0 });
  });
});
