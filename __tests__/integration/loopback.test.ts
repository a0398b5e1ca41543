import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { CLI, randomPort, runCommand, runNatscope, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(60_000);

const port = randomPort();
let server: Service;

beforeAll(async () => {
  server = await startService(process.execPath, [CLI, 'serve', 'stun', '--address', '127.0.0.1', '--alt-address', '127.0.0.2', '--port', String(port), '--alt-port', String(port + 1)], /listening on/);
});
afterAll(async () => {
  await server?.stop();
});

describe('natscope classify against natscope serve stun on loopback', () => {
  it('reports no NAT, endpoint-independent mapping and filtering, in well under a second', async () => {
    const run = await runNatscope(['classify', `127.0.0.1:${port}`, '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ nat: false, mapping: 'endpoint-independent', filtering: 'endpoint-independent', rfc3489: 'open-internet', hairpinning: true, serverSupportsRfc5780: true, server: `127.0.0.1:${port}` });
    expect(report.durationMs).toBeLessThan(300);
    expect(report.tests.map((t: { test: string }) => t.test)).toEqual(
      expect.arrayContaining(['mapping test I', 'mapping test II', 'mapping test III', 'filtering test II', 'filtering test III']),
    );
  });

  it('exits 0 when every --expect is met and 1 when one is not', async () => {
    const met = await runNatscope(['classify', `127.0.0.1:${port}`, '--json', '--expect', 'nat=false', '--expect', 'filtering=endpoint-independent']);
    expect(met.code).toBe(0);
    const unmet = await runNatscope(['classify', `127.0.0.1:${port}`, '--expect', 'rfc3489=symmetric']);
    expect(unmet.code).toBe(1);
    expect(unmet.stdout).toMatch(/✘ expected rfc3489=symmetric, got "open-internet"/);
  });

  it('prints a table and a verdict in words for a person', async () => {
    const run = await runNatscope(['classify', `127.0.0.1:${port}`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/mapping test II/);
    expect(run.stdout).toMatch(/No NAT: servers see this host's own address \(127\.0\.0\.1:\d+\)\./);
    expect(run.stdout.replace(/\s+/g, ' ')).toMatch(/Peer-to-peer works with every peer/);
    expect(run.stderr).toBe('');
  });

  it('keeps serving after garbage, truncated and hostile datagrams', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const bindingRequest = Buffer.from('000100002112a442' + '00'.repeat(12), 'hex');
    const datagrams = [
      randomBytes(1),
      randomBytes(19),
      bindingRequest.subarray(0, 19),
      Buffer.concat([bindingRequest.subarray(0, 2), Buffer.from([0xff, 0xfc]), bindingRequest.subarray(4)]),
      Buffer.alloc(1400, 0xff),
      ...Array.from({ length: 200 }, () => Buffer.concat([bindingRequest.subarray(0, 20), randomBytes(16)])),
    ];
    for (const d of datagrams) socket.send(d, port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.close();
    const run = await runNatscope(['classify', `127.0.0.1:${port}`, '--json', '--expect', 'nat=false']);
    expect(run.code).toBe(0);
    expect(server.child.exitCode).toBeNull();
  });
});

describe('natscope punch against natscope serve echo on loopback', () => {
  const echoPort = randomPort();
  let echo: Service;
  beforeAll(async () => {
    echo = await startService(process.execPath, [CLI, 'serve', 'echo', '--address', '127.0.0.1', '--port', String(echoPort)], /listening on 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+/);
  });
  afterAll(async () => {
    await echo?.stop();
  });

  it('punches, sees the other port get in, and reports holes still open at a 2 s bound', async () => {
    const run = await runNatscope(['punch', `127.0.0.1:${echoPort}`, '--max-lifetime', '2', '--json', '--expect', 'punched=true']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ punched: true, alternatePortReachable: true, lifetime: null, sustainedLifetime: null, openAtBound: { lifetime: true, sustainedLifetime: true } });
    // Still open at the first ladder age (4 s), beyond the 2 s bound: the keepalive is 80% of what was seen open.
    const lowest = Math.min(report.search.lifetime.lowerMs, report.search.sustainedLifetime.lowerMs) / 1000;
    expect(lowest).toBeGreaterThanOrEqual(2);
    expect(report.keepaliveSeconds).toBe(Math.floor(0.8 * lowest));
  });

  it('is a plain UDP echo for anything else, and keeps going after malformed control messages', async () => {
    const socket = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
      // Control messages (magic "NSE1", 64 bytes) with a type byte no version defines: ignored, never answered.
      for (let i = 0; i < 100; i += 1) {
        const bad = Buffer.concat([Buffer.from('NSE1'), randomBytes(60)]);
        bad[4] = 0xee;
        socket.send(bad, echoPort, '127.0.0.1');
      }
      const reply = new Promise<Buffer>((resolve) => socket.once('message', (m) => resolve(m)));
      socket.send(Buffer.from('hello natscope'), echoPort, '127.0.0.1');
      expect((await reply).toString()).toBe('hello natscope');
      expect(echo.child.exitCode).toBeNull();
    } finally {
      socket.close();
    }
  });

  it('classifies first with --classify and explains with it', async () => {
    const run = await runNatscope(['punch', `127.0.0.1:${echoPort}`, '--classify', `127.0.0.1:${port}`, '--no-lifetime', '--no-sustained', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ punched: true, classification: { rfc3489: 'open-internet', mapping: 'endpoint-independent' } });
  });

  it('exits 2 on bad punch flags', async () => {
    const run = await runNatscope(['punch', '127.0.0.1', '--max-mappings', '3']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--max-mappings must be a whole number ≥ 8/);
  });
});

describe('the library API', () => {
  it("import { classify } from 'natscope' returns the same report as the CLI", async () => {
    const script = `import { classify } from 'natscope'; const r = await classify({ servers: ['127.0.0.1:${port}'] }); console.log(JSON.stringify({ nat: r.nat, mapping: r.mapping, filtering: r.filtering, schema: r.schema }));`;
    const run = await runCommand(process.execPath, ['--input-type=module', '-e', script]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ nat: false, mapping: 'endpoint-independent', filtering: 'endpoint-independent', schema: 'natscope.classify/1' });
  });
});

describe('natscope CLI input errors', () => {
  it.each([
    [['classify', '--family', '5'], /Invalid values|family/],
    [['classify', '127.0.0.1', '--expect', 'nonsense'], /is not KEY=VALUE/],
    [['classify', '127.0.0.1', '--expect', 'colour=blue'], /no such field/],
    [['classify', '127.0.0.1:99999'], /port must be 1-65535/],
    [['classify', '127.0.0.1', '--rto', '-5'], /--rto must be a positive/],
    [['serve', 'stun', '--address', 'not-an-ip'], /--address must be an IP address/],
    [['serve', 'stun', '--address', '127.0.0.1', '--alt-address', '127.0.0.1'], /must differ/],
    [['frobnicate'], /Unknown argument|command/],
  ])('natscope %j exits 2 with a clear message', async (args, message) => {
    const run = await runNatscope(args as string[]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message as RegExp);
  });

  it('exits 3 naming the host when a server name does not resolve', async () => {
    const run = await runNatscope(['classify', 'no-such-host.invalid']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/Cannot resolve no-such-host\.invalid/);
  });

  it('says "nothing listens on port P" at once, exit 3, when ICMP port unreachable comes back', async () => {
    const deadPort = randomPort() + 1;
    const run = await runNatscope(['classify', `127.0.0.1:${deadPort}`, '--json']);
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout);
    expect(report.rfc3489).toBe('unknown');
    expect(report.reasons.rfc3489).toMatch(new RegExp(`the host 127\\.0\\.0\\.1 answered that nothing listens on port ${deadPort} \\(ICMP port unreachable`));
    expect(report.tests[0]).toMatchObject({ outcome: 'port-unreachable', systemError: 'ECONNREFUSED' });
    expect(run.elapsedMs).toBeLessThan(5000);
  });

  it('exits 4 naming the address when the server cannot bind', async () => {
    const run = await runNatscope(['serve', 'stun', '--address', '192.0.2.123']);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/Cannot bind UDP socket to 192\.0\.2\.123:3478/);
  });
});
