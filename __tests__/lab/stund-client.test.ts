import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { labDown, labUp } from '../../src/api/lab.js';
import { findPreset } from '../../src/lab/presets.js';
import { LAB } from '../../src/lab/topology.js';
import { checkLabPrerequisites } from '../../src/platform/lab-runner.js';
import { CLI, runCommand, startService, type Service, DEBIAN_STUN_CLIENT } from '../helpers/processes.js';

jest.setTimeout(180_000);

/**
 * Debian's `stun` (stun-client 0.97, the Vovida stund client) is an RFC 3489 client: no magic cookie. It prints its
 * verdict ("Primary: Independent Mapping, Port Dependent Filter, ...") and exits with it as a number: bits 1-3 the
 * type (0x0 open, 0x2 independent filter, 0x4 address-dependent filter, 0x6 port-dependent filter, 0x8 dependent
 * mapping, 0xC blocked), bit 0 "preserves ports", bit 4 hairpin.
 */
const STUND_VERDICTS = [
  ['full-cone', /Primary: Independent Mapping, Independent Filter/, 0x2],
  ['restricted-cone', /Primary: Independent Mapping, Address Dependent Filter/, 0x4],
  ['port-restricted-cone', /Primary: Independent Mapping, Port Dependent Filter/, 0x6],
  ['symmetric', /Primary: Dependent Mapping/, 0x8],
] as const;

let server: Service | undefined;
beforeAll(() => {
  checkLabPrerequisites();
});
afterAll(async () => {
  await server?.stop();
  labDown();
});

describe("Debian's RFC 3489 stun client against natscope serve stun, behind the lab's NATs", () => {
  it.each(STUND_VERDICTS)('reads the %s NAT truly', async (presetName, verdict, typeBits) => {
    const preset = findPreset(presetName)!;
    expect(preset.truth.rfc3489).toBe(presetName);
    await server?.stop();
    labUp({ preset: presetName, udpTimeoutSeconds: 30, udpStreamTimeoutSeconds: 120, lossPercent: 0, hairpin: false });
    const [a, b] = LAB.serverAddresses;
    server = await startService('ip', ['netns', 'exec', LAB.public, process.execPath, CLI, 'serve', 'stun', '--address', a, '--alt-address', b, '--workers', '1'], /listening on/);
    const run = await runCommand('ip', ['netns', 'exec', LAB.client[0], DEBIAN_STUN_CLIENT, `${a}:3478`], 60_000);
    expect(run.stdout).toMatch(verdict);
    expect(run.stdout).not.toMatch(/Blocked or could not reach/);
    expect((run.code ?? -1) & 0x0e).toBe(typeBits);
  });
});
