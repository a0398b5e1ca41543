import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LAB_ID } from '../../src/lab/topology.js';
import { checkLabPrerequisites } from '../../src/platform/lab-runner.js';
import { CLI, runCommand, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(120_000);

// Two hosts on one link, in namespaces of this test's own (prefixed with NATSCOPE_LAB_ID): documentation addresses
// that exist only there. To measure another build (before/after), set NATSCOPE_ECHO_CLI to its dist/cli/main.js.
const NS = { a: `${LAB_ID}-ela`, b: `${LAB_ID}-elb` } as const;
const A = { ip: '203.0.113.21', port: 47001 };
const B = { ip: '203.0.113.22', port: 47002 };
const BOUND = 6;
const cli = process.env.NATSCOPE_ECHO_CLI ?? CLI;
const forge = fileURLToPath(new URL('../helpers/udp-forge.py', import.meta.url));
const echoService = fileURLToPath(new URL('../helpers/udp-echo-service.py', import.meta.url));

const sh = (ns: string | undefined, ...argv: string[]): string => {
  const full = ns === undefined ? argv : ['ip', 'netns', 'exec', ns, ...argv];
  const result = spawnSync(full[0]!, full.slice(1), { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${full.join(' ')}: ${result.stderr || result.error?.message}`);
  return result.stdout;
};
const teardown = (): void => {
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
};

/** Counts UDP datagrams arriving in `ns` at `port` (nftables counter); reset by re-creating the table. */
function countArrivals(ns: string, ports: readonly number[]): () => Map<number, number> {
  const table = `${LAB_ID}count`;
  spawnSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', table], { stdio: 'ignore' });
  const rules = ports.map((port) => `udp dport ${port} counter comment "p${port}"`).join('\n    ');
  sh(undefined, 'sh', '-c', `ip netns exec ${ns} nft -f - <<'NFT'\ntable inet ${table} {\n  chain in {\n    type filter hook input priority 0;\n    ${rules}\n  }\n}\nNFT`);
  return () => {
    const listing = sh(ns, 'nft', 'list', 'table', 'inet', table);
    return new Map(ports.map((port) => [port, Number(new RegExp(`udp dport ${port} counter packets (\\d+)`).exec(listing)?.[1] ?? NaN)]));
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('no echo loops between real servers (lab, root): one forged datagram, at most 6 echoes', () => {
  const services: Service[] = [];
  beforeAll(async () => {
    checkLabPrerequisites();
    teardown();
    sh(undefined, 'ip', 'netns', 'add', NS.a);
    sh(undefined, 'ip', 'netns', 'add', NS.b);
    sh(undefined, 'ip', 'link', 'add', `${LAB_ID}-ela0`, 'netns', NS.a, 'type', 'veth', 'peer', 'name', `${LAB_ID}-elb0`, 'netns', NS.b);
    for (const [ns, host, link] of [[NS.a, A, `${LAB_ID}-ela0`], [NS.b, B, `${LAB_ID}-elb0`]] as const) {
      sh(ns, 'ip', 'link', 'set', 'lo', 'up');
      sh(ns, 'ip', 'addr', 'add', `${host.ip}/24`, 'dev', link);
      sh(ns, 'ip', 'link', 'set', link, 'up');
    }
    for (const [ns, host] of [[NS.a, A], [NS.b, B]] as const) {
      services.push(await startService('ip', ['netns', 'exec', ns, process.execPath, cli, 'serve', 'echo', '--address', host.ip, '--port', String(host.port), '--alt-port', '0'], /listening on/));
    }
  });
  afterAll(async () => {
    for (const service of services) await service.stop();
    teardown();
  });

  it('between two natscope echo servers: a datagram forged from one to the other dies within the bound', async () => {
    const atA = countArrivals(NS.a, [A.port]);
    const atB = countArrivals(NS.b, [B.port]);
    sh(NS.b, 'python3', forge, B.ip, String(B.port), A.ip, String(A.port), 'one forged datagram');
    await sleep(3000);
    const echoesByA = atB().get(B.port)!;
    const echoesByB = atA().get(A.port)! - 1; // minus the forged one
    expect(echoesByA).toBeGreaterThanOrEqual(1); // the forged datagram did arrive and was answered once
    expect(echoesByA + echoesByB).toBeLessThanOrEqual(BOUND);
  });

  it('between natscope and an RFC 862 echo service on a high port, and never with the echo port 7', async () => {
    const plain = await startService('ip', ['netns', 'exec', NS.b, 'python3', echoService, B.ip, '47007'], /listening/);
    const port7 = await startService('ip', ['netns', 'exec', NS.b, 'python3', echoService, B.ip, '7'], /listening/);
    services.push(plain, port7);
    const atA = countArrivals(NS.a, [A.port]);
    const atB = countArrivals(NS.b, [47007, 7]);
    sh(NS.b, 'python3', forge, B.ip, '47007', A.ip, String(A.port), 'forged from a plain echo service');
    sh(NS.b, 'python3', forge, B.ip, '7', A.ip, String(A.port), 'forged from port 7');
    await sleep(3000);
    const toB = atB();
    expect(toB.get(7)).toBe(0);
    expect(toB.get(47007)! + (atA().get(A.port)! - 2)).toBeLessThanOrEqual(BOUND);
    expect(toB.get(47007)).toBeGreaterThanOrEqual(1);
  });

  it('still echoes a person (nc -u) from an ephemeral port', async () => {
    const run = await runCommand('ip', ['netns', 'exec', NS.b, 'python3', '-c',
      `import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.sendto(b'hello natscope', ('${A.ip}', ${A.port})); print(s.recvfrom(100)[0].decode())`]);
    expect(run.stdout.trim()).toBe('hello natscope');
  });
});
