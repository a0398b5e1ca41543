import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { labDown, labUp } from '../../src/api/lab.js';
import { LAB } from '../../src/lab/topology.js';
import { checkLabPrerequisites } from '../../src/platform/lab-runner.js';
import { CLI, runCommand, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(300_000);

interface Lifetime {
  seconds: number;
  lowerSeconds: number;
  upperSeconds: number;
}

/** Runs natscope punch in client1 while counting the NAT's conntrack entries every 250 ms. */
async function punchInClient(args: string[]): Promise<{ code: number | null; report: Record<string, unknown>; peakConntrack: number }> {
  let peakConntrack = 0;
  const sampler = setInterval(() => {
    const count = Number(spawnSync('ip', ['netns', 'exec', LAB.nat[0], 'conntrack', '-C'], { encoding: 'utf8' }).stdout.trim());
    if (Number.isFinite(count)) peakConntrack = Math.max(peakConntrack, count);
  }, 250);
  try {
    const run = await runCommand('ip', ['netns', 'exec', LAB.client[0], process.execPath, CLI, 'punch', LAB.serverAddresses[0], '--json', ...args], 240_000);
    if (run.stdout.trim() === '') throw new Error(`punch printed nothing (exit ${run.code}): ${run.stderr}`);
    return { code: run.code, report: JSON.parse(run.stdout) as Record<string, unknown>, peakConntrack };
  } finally {
    clearInterval(sampler);
  }
}

const within = (measured: Lifetime | null, trueSeconds: number): void => {
  expect(measured).not.toBeNull();
  // Conntrack expires on its own timer; the client sees the hole a few ms either side of it.
  expect(measured!.lowerSeconds).toBeLessThanOrEqual(trueSeconds + 0.3);
  expect(measured!.upperSeconds).toBeGreaterThanOrEqual(trueSeconds - 0.3);
  expect(measured!.upperSeconds - measured!.lowerSeconds).toBeLessThanOrEqual(Math.max(1, 0.02 * trueSeconds) + 0.05);
};

describe('natscope punch in the lab, against real conntrack timeouts', () => {
  let echo: Service | undefined;
  const startEcho = async (): Promise<void> => {
    echo = await startService('ip', ['netns', 'exec', LAB.public, process.execPath, CLI, 'serve', 'echo', '--address', LAB.serverAddresses[0]], /listening on/);
  };
  afterAll(async () => {
    await echo?.stop();
    labDown();
  });

  it.each([
    [5, 12],
    [10, 25],
  ])('finds nf_conntrack_udp_timeout=%i s and udp_timeout_stream=%i s within max(1 s, 2%%), in 1.25 L + 5 s, holding ≤ 64 mappings', async (single, stream) => {
    checkLabPrerequisites();
    await echo?.stop();
    labUp({ preset: 'port-restricted-cone', udpTimeoutSeconds: single, udpStreamTimeoutSeconds: stream });
    await startEcho();
    const { code, report, peakConntrack } = await punchInClient(['--max-lifetime', '60', '--expect', 'punched=true']);
    expect(code).toBe(0);
    expect(report).toMatchObject({ punched: true, alternatePortReachable: false });
    within(report.lifetime as Lifetime, single);
    within(report.sustainedLifetime as Lifetime, stream);
    const search = report.search as Record<string, { elapsedMs: number }>;
    expect(search.lifetime!.elapsedMs).toBeLessThanOrEqual(1.25 * single * 1000 + 5000);
    // The sustained search's sockets carry 3 s of traffic before they go idle.
    expect(search.sustainedLifetime!.elapsedMs).toBeLessThanOrEqual(1.25 * stream * 1000 + 5000 + 3500);
    expect(report.keepaliveSeconds).toBe(Math.max(1, Math.floor(0.8 * (report.lifetime as Lifetime).lowerSeconds)));
    // 64 search mappings, the punch socket and the control socket.
    expect(peakConntrack).toBeLessThanOrEqual(66);
  });

  it('punches through a symmetric NAT to the echo server, and sees the other port filtered', async () => {
    await echo?.stop();
    labUp({ preset: 'symmetric', udpTimeoutSeconds: 5, udpStreamTimeoutSeconds: 10 });
    await startEcho();
    const { code, report } = await punchInClient(['--no-sustained', '--max-lifetime', '30']);
    expect(code).toBe(0);
    expect(report).toMatchObject({ punched: true, alternatePortReachable: false });
    within(report.lifetime as Lifetime, 5);
  });

  it('says punched=null with the reason and exits 3 (inconclusive) on --expect punched=true when UDP is blocked', async () => {
    await echo?.stop();
    labUp({ preset: 'udp-blocked' });
    await startEcho();
    const { code, report } = await punchInClient(['--expect', 'punched=true']);
    expect(report).toMatchObject({ punched: null, lifetime: null });
    expect(report.reason).toMatch(/no answer from 203\.0\.113\.1:9199 after 7 tries .*a single server cannot tell a blocked network from a server that is down/);
    expect(code).toBe(3);
  });
});
