import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { labDown, labUp } from '../../src/api/lab.js';
import { findPreset, LAB_PRESETS, type LabPreset } from '../../src/lab/presets.js';
import { LAB } from '../../src/lab/topology.js';
import { checkLabPrerequisites } from '../../src/platform/lab-runner.js';
import { parseNatDiscovery, requireCoturn, startCoturn } from '../helpers/coturn.js';
import { CLI, runCommand, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(300_000);

// No skipping: without root, ip, nft or conntrack this suite fails with the reason (CI must be able to build the lab).
const serversOf = (preset: LabPreset): readonly [string, string] => (preset.family === 6 ? LAB.serverAddresses6 : LAB.serverAddresses);
const hostPort = (address: string, port: number): string => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);
const NATSCOPE_PORT = 3478;
const COTURN_PORT = 3490;

interface Report {
  nat: boolean | null;
  mapping: string;
  filtering: string;
  hairpinning: boolean | null;
  rfc3489: string;
  durationMs: number;
}

const inClient = (argv: string[], timeoutMs = 120_000) => runCommand('ip', ['netns', 'exec', LAB.client[0], ...argv], timeoutMs);

async function classifyInClient(preset: LabPreset, port: number): Promise<Report> {
  // "UDP blocked" needs two silent servers at different IPs: one silent server could just be down.
  const servers = preset.truth.rfc3489 === 'udp-blocked' ? serversOf(preset).map((ip) => hostPort(ip, port)) : [hostPort(serversOf(preset)[0], port)];
  const run = await inClient([process.execPath, CLI, 'classify', ...servers, '--json']);
  if (run.stdout.trim() === '') throw new Error(`classify printed nothing (exit ${run.code}): ${run.stderr}`);
  return JSON.parse(run.stdout) as Report;
}

const truthOf = (preset: LabPreset, hairpinning: boolean | null) => ({ ...preset.truth, hairpinning });
/** Without --hairpin a NAT drops packets to its own address; with no NAT they go straight to the host. */
const defaultHairpinning = (preset: LabPreset): boolean | null => (preset.truth.nat === null ? null : preset.truth.nat === false);

/** Starts natscope's and coturn's servers in the public host. */
async function startServers(preset: LabPreset): Promise<Service[]> {
  const inPublic = ['netns', 'exec', LAB.public];
  const [SERVER_A, SERVER_B] = serversOf(preset);
  const natscope = await startService('ip', [...inPublic, process.execPath, CLI, 'serve', 'stun', '--address', SERVER_A, '--alt-address', SERVER_B, '--port', String(NATSCOPE_PORT), '--alt-port', String(NATSCOPE_PORT + 1)], /listening on/);
  // In the lab's own namespace the fixed port is free; the pid file and database still go to a private folder.
  const coturn = await startCoturn([SERVER_A, SERVER_B], { prefix: ['ip', ...inPublic], port: COTURN_PORT });
  return [natscope, coturn];
}

beforeAll(() => {
  checkLabPrerequisites();
  requireCoturn();
});
afterAll(() => {
  labDown();
});

describe.each(LAB_PRESETS.map((p) => [p.name, p] as const))('lab preset %s', (_name, preset) => {
  let servers: Service[] = [];
  beforeAll(async () => {
    labUp({ preset: preset.name });
    servers = await startServers(preset);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    labDown();
  });

  it('natscope classify finds the ground truth, three runs in a row', async () => {
    for (let run = 0; run < 3; run += 1) {
      expect(await classifyInClient(preset, NATSCOPE_PORT)).toMatchObject(truthOf(preset, defaultHairpinning(preset)));
    }
  });

  it('natscope classify against coturn turnserver finds the ground truth', async () => {
    expect(await classifyInClient(preset, COTURN_PORT)).toMatchObject(truthOf(preset, defaultHairpinning(preset)));
  });

  it('coturn turnutils_natdiscovery against natscope serve stun finds the ground truth', async () => {
    const run = await inClient(['turnutils_natdiscovery', '-m', '-f', serversOf(preset)[0], '-p', String(NATSCOPE_PORT)], 120_000);
    const found = parseNatDiscovery(run.stdout + run.stderr);
    if (preset.truth.nat === null) {
      expect(found).toEqual({});
    } else if (preset.name === 'address-dependent-mapping') {
      // coturn's client aims test III at the OTHER-ADDRESS of test II's response; RFC 5780 §7.4 makes that
      // relative to the socket test II reached (primary IP, alternate port), so it compares two IPs and says
      // address-and-port-dependent. natscope's own client, following §4.3 (test I's OTHER-ADDRESS), is right.
      expect(found).toEqual({ mapping: 'address-and-port-dependent', filtering: preset.truth.filtering });
    } else {
      expect(found).toEqual({ mapping: preset.truth.mapping, filtering: preset.truth.filtering });
    }
  });
});

describe.each(LAB_PRESETS.filter((p) => p.truth.nat !== null).map((p) => [p.name, p] as const))('lab preset %s with 20% loss each way', (_name, preset) => {
  let servers: Service[] = [];
  beforeAll(async () => {
    labUp({ preset: preset.name, lossPercent: 20 });
    servers = await startServers(preset);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    labDown();
  });

  it('is right or unknown in every run, never wrong, and conclusive in at least 90% of 10 runs', async () => {
    let conclusive = 0;
    for (let run = 0; run < 10; run += 1) {
      const report = await classifyInClient(preset, NATSCOPE_PORT);
      for (const key of ['mapping', 'filtering', 'rfc3489'] as const) {
        if (report[key] !== 'unknown') expect({ key, value: report[key] }).toEqual({ key, value: preset.truth[key] });
      }
      if (report.nat !== null) expect(report.nat).toBe(preset.truth.nat);
      if (report.rfc3489 !== 'unknown') conclusive += 1;
    }
    expect(conclusive).toBeGreaterThanOrEqual(9);
  });
});

describe('lab hairpinning', () => {
  const preset = findPreset('port-restricted-cone')!;
  let servers: Service[] = [];
  beforeAll(async () => {
    labUp({ preset: preset.name, hairpin: true });
    servers = await startServers(preset);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    labDown();
  });

  it('finds hairpinning when the NAT hairpins', async () => {
    expect(await classifyInClient(preset, NATSCOPE_PORT)).toMatchObject({ hairpinning: true, rfc3489: 'port-restricted-cone' });
  });

  it('refuses --hairpin on a preset that does not preserve ports', () => {
    expect(() => labUp({ preset: 'symmetric', hairpin: true })).toThrow(/--hairpin needs an IPv4 NAT preset that preserves ports/);
  });
});
