import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { labDown, labUp } from '../../src/api/lab.js';
import { LAB } from '../../src/lab/topology.js';
import { checkLabPrerequisites } from '../../src/platform/lab-runner.js';
import { CLI, runCommand, startService, type Finished, type Service } from '../helpers/processes.js';

jest.setTimeout(180_000);

// No skipping: without root, ip, nft or conntrack this suite fails with the reason (CI must be able to build the lab).

type Preset =
  | 'open-internet'
  | 'firewall-only'
  | 'full-cone'
  | 'restricted-cone'
  | 'port-restricted-cone'
  | 'address-dependent-mapping'
  | 'symmetric'
  | 'symmetric-sequential';
type Technique = 'simultaneous-open' | 'port-prediction' | 'birthday';
type Expected = { predicted: 'direct' | 'port-prediction' | 'birthday'; technique: Technique } | { predicted: 'relay-needed' };

/*
 * What theory says of each pair, written down before any run (RFC 4787 §4.1 mapping, §4.2.2 port allocation, §5
 * filtering). "Easy" = endpoint-independent mapping (open-internet and firewall-only have no NAT, so their one
 * address is trivially endpoint-independent): the server-reflexive address is the one the peer will see.
 *   R1 easy × easy: both send to each other's server-reflexive address at once; each send opens its own filter for
 *      exactly that peer address, so the crossing packets get in (simultaneous open), whatever the filtering.
 *   R2 easy with a lenient filter (endpoint-independent: open-internet, full-cone; address-dependent: restricted-cone)
 *      × hard mapping: the hard side's packet arrives from a new port, which the easy side lets in (any port of
 *      an address it has sent to, or anything); answered at once (peer-reflexive): simultaneous open.
 *   R3 easy with a port filter (address-and-port-dependent: firewall-only, port-restricted-cone) × hard mapping with
 *      sequential ports (symmetric-sequential): the easy side must send to the hard side's next port, which the
 *      constant stride predicts: port prediction.
 *   R4 easy with a port filter × hard mapping with random ports (symmetric, and address-dependent-mapping, whose
 *      per-destination port is random within a range): nothing predicts the port; many sockets on the hard side
 *      and random probes from the easy side meet by the birthday paradox: birthday.
 *   R5 hard × hard, both sequential: each sends to the other's k-th next port as its own k-th new mapping, so the
 *      two walks meet on the diagonal (lockstep): port prediction.
 *   R6 hard × hard, one or both random: neither side can learn the port the other's NAT opens for it, and a spray
 *      against a port filter whose port is itself random cannot converge: relay needed.
 *   R7 R4 with the birthday spray disabled (--no-birthday): relay needed.
 */
const R1: Expected = { predicted: 'direct', technique: 'simultaneous-open' };
const R2: Expected = { predicted: 'direct', technique: 'simultaneous-open' };
const R3: Expected = { predicted: 'port-prediction', technique: 'port-prediction' };
const R4: Expected = { predicted: 'birthday', technique: 'birthday' };
const R5: Expected = { predicted: 'port-prediction', technique: 'port-prediction' };
const R6: Expected = { predicted: 'relay-needed' };
const R7: Expected = { predicted: 'relay-needed' };

/** Every unordered pair of the eight presets (a preset with itself included): client1's NAT, client2's NAT, theory. */
const CELLS: ReadonlyArray<readonly [Preset, Preset, Expected, ...string[]]> = [
  ['open-internet', 'open-internet', R1],
  ['open-internet', 'firewall-only', R1],
  ['open-internet', 'full-cone', R1],
  ['open-internet', 'restricted-cone', R1],
  ['open-internet', 'port-restricted-cone', R1],
  ['open-internet', 'address-dependent-mapping', R2],
  ['open-internet', 'symmetric', R2],
  ['open-internet', 'symmetric-sequential', R2],
  ['firewall-only', 'firewall-only', R1],
  ['firewall-only', 'full-cone', R1],
  ['firewall-only', 'restricted-cone', R1],
  ['firewall-only', 'port-restricted-cone', R1],
  ['firewall-only', 'address-dependent-mapping', R4],
  ['firewall-only', 'symmetric', R4],
  ['firewall-only', 'symmetric-sequential', R3],
  ['full-cone', 'full-cone', R1],
  ['full-cone', 'restricted-cone', R1],
  ['full-cone', 'port-restricted-cone', R1],
  ['full-cone', 'address-dependent-mapping', R2],
  ['full-cone', 'symmetric', R2],
  ['full-cone', 'symmetric-sequential', R2],
  ['restricted-cone', 'restricted-cone', R1],
  ['restricted-cone', 'port-restricted-cone', R1],
  ['restricted-cone', 'address-dependent-mapping', R2],
  ['restricted-cone', 'symmetric', R2],
  ['restricted-cone', 'symmetric-sequential', R2],
  ['port-restricted-cone', 'port-restricted-cone', R1],
  ['port-restricted-cone', 'address-dependent-mapping', R4],
  ['port-restricted-cone', 'symmetric', R4],
  ['port-restricted-cone', 'symmetric-sequential', R3],
  ['address-dependent-mapping', 'address-dependent-mapping', R6],
  ['address-dependent-mapping', 'symmetric', R6],
  ['address-dependent-mapping', 'symmetric-sequential', R6],
  ['symmetric', 'symmetric', R6],
  ['symmetric', 'symmetric-sequential', R6],
  ['symmetric-sequential', 'symmetric-sequential', R5],
  // The extra cell: R4's pair with the spray forbidden.
  ['port-restricted-cone', 'symmetric', R7, '--no-birthday'],
];

/** The natscope.p2p/1 fields the matrix reads. */
interface P2pReport {
  schema?: string;
  direct: boolean;
  technique: Technique | null;
  predicted: string;
  predictionHeld: boolean | null;
  timeToDirectMs: number | null;
  probesSent: number;
  reason: string | null;
  error?: unknown;
  durationMs: number;
}

const SERVER = LAB.serverAddresses[0];
const WAIT_SECONDS = 30;
const timings: Array<{ cell: string; ms: number }> = [];
let matrixStartedMs = 0;

/** Runs natscope p2p in a client namespace. */
const p2pIn = (client: string, room: string, extra: readonly string[], server: string = SERVER): Promise<Finished> =>
  runCommand('ip', ['netns', 'exec', client, process.execPath, CLI, 'p2p', server, '--room', room, '--json', '--wait', String(WAIT_SECONDS), ...extra], (WAIT_SECONDS + 60) * 1000);

const parse = (side: string, run: Finished): P2pReport => {
  try {
    return JSON.parse(run.stdout) as P2pReport;
  } catch {
    throw new Error(`${side}: natscope p2p printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
};

beforeAll(() => {
  checkLabPrerequisites();
  matrixStartedMs = performance.now();
});
afterAll(() => {
  labDown();
  const totalS = (performance.now() - matrixStartedMs) / 1000;
  const lines = timings.map((t) => `  ${t.cell.padEnd(62)} ${(t.ms / 1000).toFixed(1).padStart(6)} s`);
  process.stderr.write(`p2p matrix: ${timings.length} cells in ${totalS.toFixed(0)} s (budget 900 s)\n${lines.join('\n')}\n`);
});

/** One cell: the lab for the pair, a rendezvous server on the public host, natscope p2p in both clients at once. */
async function runCell(
  name: string,
  preset: string,
  peerPreset: string,
  expected: Expected,
  flags: readonly string[],
  servers: readonly [string, string] = [SERVER, LAB.serverAddresses[1]],
  lossPercent = 0,
): Promise<void> {
  const started = performance.now();
  labUp({ preset, peerPreset, lossPercent });
  let rendezvous: Service | undefined;
  try {
    rendezvous = await startService(
      'ip',
      ['netns', 'exec', LAB.public, process.execPath, CLI, 'serve', 'rendezvous', '--address', servers[0], '--alt-address', servers[1]],
      /listening on/,
    );
    const punch = async (attempt: number): Promise<readonly [Finished, Finished]> => {
      const room = `matrix-${preset}-${peerPreset}-${process.pid}-${Date.now()}-${attempt}`;
      return Promise.all([p2pIn(LAB.client[0], room, flags, servers[0]), p2pIn(LAB.client[1], room, flags, servers[0])]);
    };
    let [run1, run2] = await punch(1);
    let reports = [parse(`client1 (${preset})`, run1), parse(`client2 (${peerPreset})`, run2)];
    // The birthday spray succeeds with the chance it states first (99.7% at the default budget of 1,500 probes;
    // 359 of 360 runs in bench:p2p), not always. A miss at the budget is that stated chance, not a wrong answer:
    // such a cell runs once more and must then succeed (two misses in a row: about 1 in 150,000).
    if (expected.predicted === 'birthday' && reports.every((r) => r.direct === false && /no probe crossed within the budget/.test(r.reason ?? ''))) {
      process.stderr.write(`p2p matrix: ${name}: the birthday spray missed at its budget (${reports[0]!.reason}); running the cell once more\n`);
      [run1, run2] = await punch(2);
      reports = [parse(`client1 (${preset})`, run1), parse(`client2 (${peerPreset})`, run2)];
    }
    for (const [side, report, run] of [['client1', reports[0]!, run1], ['client2', reports[1]!, run2]] as const) {
      // Keyed by side so a failure names the side; the whole report is added to the failure below.
      const seen = { side, exit: run.code, ...report };
      try {
        expect(seen).toMatchObject({ side, exit: 0, predicted: expected.predicted, predictionHeld: true });
        if (expected.predicted === 'relay-needed') {
          expect(seen).toMatchObject({ side, direct: false, technique: null });
          expect(seen.reason).toMatch(/relay/);
        } else {
          expect(seen).toMatchObject({ side, direct: true, technique: expected.technique });
          expect(seen.timeToDirectMs).toEqual(expect.any(Number));
        }
      } catch (failure) {
        (failure as Error).message += `\n\nclient1 (${preset}): ${run1.stdout}\nclient2 (${peerPreset}): ${run2.stdout}`;
        throw failure;
      }
    }
  } finally {
    await rendezvous?.stop();
    timings.push({ cell: name, ms: performance.now() - started });
  }
}

describe('natscope p2p between two lab NATs, every pair of presets', () => {
  it('covers every unordered pair of the eight presets once, plus the cell without birthday', () => {
    const presets = new Set(CELLS.flatMap(([a, b]) => [a, b]));
    const pairs = new Set(CELLS.filter((c) => c.length === 3).map(([a, b]) => [a, b].sort().join(' × ')));
    expect(presets.size).toBe(8);
    expect(pairs.size).toBe((8 * 9) / 2);
    expect(CELLS).toHaveLength(37);
  });

  it.each(CELLS.map((cell) => [`${cell[0]} × ${cell[1]}${cell.length > 3 ? ` ${cell.slice(3).join(' ')}` : ''}`, cell] as const))(
    '%s: both sides get the direct path theory allows, or say a relay is needed, as predicted',
    async (name, [preset, peerPreset, expected, ...flags]) => runCell(name, preset, peerPreset, expected, flags),
  );
});

/*
 * IPv6: the lab's two IPv6 presets (no NAT with a stateful firewall; NAT66 masquerade, which keeps the port and maps
 * endpoint-independently) are both "easy" (R1): a direct path by simultaneous open, over IPv6 addresses only.
 */
const CELLS6: ReadonlyArray<readonly [string, string]> = [
  ['ipv6-firewall-only', 'ipv6-firewall-only'],
  ['ipv6-firewall-only', 'ipv6-nat66'],
  ['ipv6-nat66', 'ipv6-nat66'],
];

describe('natscope p2p over IPv6, every pair of the IPv6 presets', () => {
  it.each(CELLS6.map((cell) => [`${cell[0]} × ${cell[1]}`, cell] as const))('%s: a direct path by simultaneous open, as predicted', async (name, [preset, peerPreset]) =>
    runCell(name, preset, peerPreset, R1, [], [LAB.serverAddresses6[0], LAB.serverAddresses6[1]]),
  );
});

/*
 * 5% loss each way through both NATs (nftables drops at random, as a congested link): one cell of each technique.
 * Classification, signalling, the checks and the spray must all survive it, and the verdict stays the theory's.
 */
const LOSSY_CELLS: ReadonlyArray<readonly [Preset, Preset, Expected]> = [
  ['full-cone', 'restricted-cone', R1],
  ['port-restricted-cone', 'symmetric-sequential', R3],
  ['port-restricted-cone', 'symmetric', R4],
];

describe('natscope p2p with 5% loss each way through both NATs', () => {
  it.each(LOSSY_CELLS.map((cell) => [`${cell[0]} × ${cell[1]}`, cell] as const))('%s: the same outcome as without loss', async (name, [preset, peerPreset, expected]) =>
    runCell(`${name} (5% loss)`, preset, peerPreset, expected, [], [SERVER, LAB.serverAddresses[1]], 5),
  );
});
