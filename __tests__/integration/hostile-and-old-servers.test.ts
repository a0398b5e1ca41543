import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createSocket, type Socket } from 'node:dgram';
import { HOSTILE_BEHAVIOURS, startHostileStunServer } from '../helpers/hostile-stun-server.js';
import { CLI, randomPort, runCommand, runNatscope, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(120_000);

describe('natscope classify against Debian stund (RFC 3489: CHANGED-ADDRESS, no OTHER-ADDRESS) on loopback', () => {
  const port = randomPort();
  let stund: Service;
  beforeAll(async () => {
    // stund prints nothing when ready without -v; -v prints its addresses at start.
    stund = await startService('/usr/sbin/stund', ['-v', '-h', '127.0.0.1', '-a', '127.0.0.2', '-p', String(port), '-o', String(port + 1)], /Primary|STUN|Using/i);
  });
  afterAll(async () => {
    await stund?.stop();
  });

  it('uses CHANGED-ADDRESS as OTHER-ADDRESS and finds no NAT, endpoint-independent filtering', async () => {
    const run = await runNatscope(['classify', `127.0.0.1:${port}`, '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ nat: false, mapping: 'endpoint-independent', filtering: 'endpoint-independent', rfc3489: 'open-internet', alternateAddressFrom: 'CHANGED-ADDRESS', serverSupportsRfc5780: false });
    expect(report.tests[0].changedAddress).toBe(`127.0.0.2:${port + 1}`);
  });
});

describe('natscope classify against hostile servers on real loopback sockets', () => {
  it.each([
    ['wrong-transaction-id', /answers, but its answers do not match the requests \(wrong transaction ID ×3\)/],
    ['other-family', /answered mapping test I with an IPv6 address/],
    ['stray-flood', /answers, but its answers do not match the requests \(wrong transaction ID ×\d+/],
    ['not-stun', /answers UDP but not STUN/],
  ])('%s: exit 3 with the reason, within 5 s', async (behaviour, reason) => {
    const server = await startHostileStunServer(HOSTILE_BEHAVIOURS[behaviour]!);
    try {
      const run = await runNatscope(['classify', `127.0.0.1:${server.port}`, '--json']);
      expect(run.code).toBe(3);
      const report = JSON.parse(run.stdout);
      expect(report.rfc3489).toBe('unknown');
      expect(report.reasons.rfc3489).toMatch(reason);
      expect(run.elapsedMs).toBeLessThan(5000);
    } finally {
      server.close();
    }
  });

  it('an echo server mistaken for a STUN server: "answers UDP but not STUN: is it an echo server?"', async () => {
    const echoPort = randomPort();
    const echo = await startService(process.execPath, [CLI, 'serve', 'echo', '--address', '127.0.0.1', '--port', String(echoPort)], /listening on/);
    try {
      const run = await runNatscope(['classify', `127.0.0.1:${echoPort}`, '--json']);
      expect(run.code).toBe(3);
      const report = JSON.parse(run.stdout);
      expect(report.reasons.rfc3489).toMatch(new RegExp(`127\\.0\\.0\\.1:${echoPort} answers UDP but not STUN \\(our own request sent back ×2\\): is it an echo server\\?`));
      expect(report.tests[0].rejected).toEqual({ 'echoed-request': 2 });
    } finally {
      await echo.stop();
    }
  });
});

describe('silent servers', () => {
  const sockets: Socket[] = [];
  const port = randomPort();
  beforeAll(async () => {
    for (const address of ['127.0.0.1', '127.0.0.3']) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(port, address, () => resolve()));
      sockets.push(socket); // bound and never answering: no ICMP either
    }
  });
  afterAll(() => sockets.forEach((s) => s.close()));

  it('one silent server is unknown, exit 3: it cannot tell a blocked network from a server that is down', async () => {
    const run = await runNatscope(['classify', `127.0.0.1:${port}`, '--rto', '10', '--json']);
    expect(run.code).toBe(3);
    expect(JSON.parse(run.stdout).reasons.rfc3489).toMatch(new RegExp(`no answer from 127\\.0\\.0\\.1:${port} after 14 tries .*a single server cannot tell a blocked network from a server that is down — pass a second server`));
  });

  it('two silent servers at different IPs, no ICMP: udp-blocked, exit 0', async () => {
    const run = await runNatscope(['classify', `127.0.0.1:${port}`, `127.0.0.3:${port}`, '--rto', '10', '--json', '--expect', 'rfc3489=udp-blocked']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).reasons.rfc3489).toMatch(/no answer and no ICMP error from 2 STUN servers at 2 IP addresses/);
  });
});

describe('no route (a network namespace of our own with no interface up: unshare -n)', () => {
  it.each([
    [['classify', '127.0.0.1:3478'], 'reasons', /this host could not send to 127\.0\.0\.1:3478: ENETUNREACH \(no route to that network\)/],
    [['punch', '127.0.0.1:9199'], 'reason', /this host could not send to 127\.0\.0\.1:9199: ENETUNREACH \(no route to that network\)/],
  ])('natscope %j says so at once, exit 3', async (args, field, reason) => {
    const run = await runCommand('unshare', ['-n', process.execPath, CLI, ...(args as string[]), '--json']);
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout);
    expect(field === 'reasons' ? report.reasons.rfc3489 : report.reason).toMatch(reason as RegExp);
    expect(run.elapsedMs).toBeLessThan(5000);
  });
});

describe('natscope punch when the echo server is missing or dies', () => {
  it('nothing listening: punched null, exit 3, "nothing listens on port P", within 5 s', async () => {
    const deadPort = randomPort() + 1;
    const run = await runNatscope(['punch', `127.0.0.1:${deadPort}`, '--json']);
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ punched: null });
    expect(report.reason).toMatch(new RegExp(`the host 127\\.0\\.0\\.1 answered that nothing listens on port ${deadPort}`));
    expect(run.elapsedMs).toBeLessThan(5000);
  });

  it('an echo server killed by its PID mid-punch: the run ends well within its deadline with a partial result, exit 3', async () => {
    const echoPort = randomPort();
    const echo = await startService(process.execPath, [CLI, 'serve', 'echo', '--address', '127.0.0.1', '--port', String(echoPort)], /listening on/);
    const running = runCommand(process.execPath, [CLI, 'punch', `127.0.0.1:${echoPort}`, '--max-lifetime', '60', '--json'], 110_000);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    process.kill(echo.child.pid!, 'SIGKILL');
    const run = await running;
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout);
    expect(report.punched).toBe(true);
    expect(report.reason).toMatch(new RegExp(`the echo server 127\\.0\\.0\\.1:${echoPort} stopped answering at \\d+\\.\\d s`));
    expect(report.search.lifetime.stoppedEarly).toBe(report.reason);
    expect(report.durationMs / 1000).toBeLessThan(report.deadlineSeconds);
    // Three control requests must go unanswered, at the search's own pace: seconds to tens of seconds, never forever.
    expect(run.elapsedMs).toBeLessThan(report.deadlineSeconds * 1000);
  });
});
