import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { labDown, labUp } from '../../src/api/lab.js';
import { findPreset } from '../../src/lab/presets.js';
import { LAB } from '../../src/lab/topology.js';
import { checkLabPrerequisites } from '../../src/platform/lab-runner.js';
import { CLI, runCommand, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(300_000);

const STUND_PORT = 3478;

/** natscope classify against Debian's RFC 3489 stund: it must read CHANGED-ADDRESS as OTHER-ADDRESS (RFC 5780 §7.4). */
describe.each(['full-cone', 'restricted-cone', 'port-restricted-cone', 'symmetric'])('lab preset %s: natscope classify against stund', (name) => {
  let stund: Service | undefined;
  afterAll(async () => {
    await stund?.stop();
    labDown();
  });

  it('agrees with the ground truth, using CHANGED-ADDRESS', async () => {
    checkLabPrerequisites();
    const preset = findPreset(name)!;
    labUp({ preset: name });
    const [a, b] = LAB.serverAddresses;
    stund = await startService('ip', ['netns', 'exec', LAB.public, '/usr/sbin/stund', '-v', '-h', a, '-a', b, '-p', String(STUND_PORT), '-o', String(STUND_PORT + 1)], /Primary|STUN|Using/i);
    const run = await runCommand('ip', ['netns', 'exec', LAB.client[0], process.execPath, CLI, 'classify', `${a}:${STUND_PORT}`, '--json'], 120_000);
    if (run.stdout.trim() === '') throw new Error(`classify printed nothing (exit ${run.code}): ${run.stderr}`);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ nat: preset.truth.nat, mapping: preset.truth.mapping, filtering: preset.truth.filtering, rfc3489: preset.truth.rfc3489, alternateAddressFrom: 'CHANGED-ADDRESS' });
    expect(run.code).toBe(0);
  });
});
