import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { startStunServer } from '../../src/cli/commands/serve-stun.js';
import { CLI, randomPort, runCommand, runNatscope, startService, type Service, DEBIAN_STUN_CLIENT } from '../helpers/processes.js';

jest.setTimeout(60_000);

let services: Service[] = [];
afterEach(async () => {
  await Promise.all(services.map((s) => s.stop()));
  services = [];
});

async function serve(args: string[], ready = /listening on/): Promise<{ service: Service; port: number }> {
  const port = randomPort();
  const service = await startService(process.execPath, [CLI, 'serve', 'stun', '--address', '127.0.0.1', '--alt-address', '127.0.0.2', '--port', String(port), '--alt-port', String(port + 1), ...args], ready, 20_000);
  services.push(service);
  return { service, port };
}

async function openSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return socket;
}

/** Sends `count` Binding requests (RFC 8489, or RFC 3489 without the cookie) and counts the answers within `waitMs`. */
async function exchange(port: number, count: number, legacy = false, waitMs = 1500): Promise<number> {
  const socket = await openSocket();
  let answers = 0;
  socket.on('message', (m: Buffer) => {
    if (m.readUInt16BE(0) === 0x0101) answers += 1;
  });
  for (let i = 0; i < count; i += 1) {
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0);
    randomBytes(16).copy(request, 4);
    if (!legacy) request.writeUInt32BE(0x2112a442, 4);
    else if (request.readUInt32BE(4) === 0x2112a442) request[4] = 0;
    socket.send(request, port, '127.0.0.1');
    // Paced (25 per 10 ms) so the server's socket buffer, not the server, is never what drops them.
    if (i % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  socket.close();
  return answers;
}

const workerPids = (output: string): Map<number, number> => {
  const pids = new Map<number, number>();
  for (const m of output.matchAll(/worker (\d+) \(pid (\d+)\) ready/g)) pids.set(Number(m[1]), Number(m[2]));
  return pids;
};

describe('natscope serve stun --workers and --metrics', () => {
  it('serves Prometheus metrics from two workers whose counters move with traffic', async () => {
    const metricsPort = randomPort() + 1;
    const { port } = await serve(['--workers', '2', '--metrics', `127.0.0.1:${metricsPort}`]);
    const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const total = (text: string, name: string, labels = ''): number =>
      [...text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))].filter((m) => m[1]!.includes(labels)).reduce((sum, m) => sum + Number(m[2]), 0);
    const before = await scrape();
    expect(before).toMatch(/natscope_stun_requests_total\{worker="1",type="rfc8489"\} 0/);
    expect(before).toMatch(/natscope_stun_requests_total\{worker="2",type="rfc8489"\} 0/);
    expect(await exchange(port, 20)).toBe(20);
    expect(await exchange(port, 5, true)).toBe(5);
    const garbage = await openSocket();
    garbage.send(Buffer.from('hello, not STUN'), port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    garbage.close();
    const after = await scrape();
    expect(total(after, 'natscope_stun_requests_total', 'type="rfc8489"')).toBe(20);
    expect(total(after, 'natscope_stun_requests_total', 'type="rfc3489"')).toBe(5);
    expect(total(after, 'natscope_stun_responses_total', 'type="success"')).toBe(25);
    expect(total(after, 'natscope_stun_dropped_total', 'reason="not-stun"')).toBe(1);
    expect(total(after, 'natscope_stun_received_bytes_total')).toBe(25 * 20 + 15);
    expect(total(after, 'natscope_stun_sources_tracked')).toBeGreaterThanOrEqual(1);
    expect(after).not.toMatch(/127\.0\.0\.1/); // no per-address labels
  });

  it('replaces a worker killed by its PID, and keeps answering', async () => {
    const { service, port } = await serve(['--workers', '2', '--rate-limit', '0']);
    const first = workerPids(service.output());
    expect(first.size).toBe(2);
    const victim = first.get(1)!;
    process.kill(victim, 'SIGKILL');
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !/worker 1 \(pid \d+\) ended \(signal SIGKILL\)[\s\S]*worker 1 \(pid \d+\) ready/.test(service.output())) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const replacement = [...service.output().matchAll(/worker 1 \(pid (\d+)\) ready/g)].map((m) => Number(m[1])).at(-1);
    expect(replacement).toBeDefined();
    expect(replacement).not.toBe(victim);
    expect(await exchange(port, 50)).toBe(50);
    expect(service.child.exitCode).toBeNull();
  });

  it('rate-limits a source to the flag across workers, and --rate-limit 0 turns it off', async () => {
    const limited = await serve(['--workers', '2', '--rate-limit', '10,20']);
    const answered = await exchange(limited.port, 200, false, 800);
    expect(answered).toBeGreaterThanOrEqual(10);
    expect(answered).toBeLessThanOrEqual(20 + 10 + 4);
    // 1500 requests in about 0.7 s: the default limit (burst 1000, 200/s) would stop near 1140.
    const open = await serve(['--workers', '1', '--rate-limit', '0']);
    expect(await exchange(open.port, 1500, false, 1500)).toBeGreaterThan(1250);
  });

  it.each([
    [['--rate-limit', 'fast'], /--rate-limit must be PACKETS_PER_S\[,BURST\] \(0 = off\), not "fast"/],
    [['--rate-limit', '10,0'], /--rate-limit .* not "10,0": BURST must be a whole number ≥ 1/],
    [['--max-sources', '-3'], /--max-sources must be a whole number .* not "-3"/],
    [['--workers', '0'], /--workers must be a whole number from 1 to 256, not "0"/],
    [['--metrics', 'localhost'], /--metrics must be ADDRESS:PORT .* not "localhost"/],
  ])('rejects %j as a usage error naming the flag and the text', async (flags, message) => {
    const run = await runNatscope(['serve', 'stun', '--address', '127.0.0.1', ...flags]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });
});

describe('serve stun --metrics on a taken port', () => {
  it.each([['1'], ['2']])('exits 4 naming the address, with --workers %s, and leaves nothing running', async (workers) => {
    const { createServer } = await import('node:http');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const metricsPort = (taken.address() as { port: number }).port;
    try {
      const run = await runNatscope(['serve', 'stun', '--address', '127.0.0.1', '--port', String(randomPort()), '--workers', workers, '--metrics', `127.0.0.1:${metricsPort}`], 20_000);
      expect(run.code).toBe(4);
      expect(run.stderr).toMatch(new RegExp(`Cannot serve metrics on 127\\.0\\.0\\.1:${metricsPort}: .*EADDRINUSE`));
    } finally {
      taken.close();
    }
  });
});

describe("Debian's RFC 3489 client (stun-client, Vovida stund) against natscope serve stun", () => {
  it('gets an answer and says "Open" on loopback (no NAT), exit code 0x01 (open, port preserved)', async () => {
    const { port } = await serve(['--workers', '1']);
    const run = await runCommand(DEBIAN_STUN_CLIENT, [`127.0.0.1:${port}`], 30_000);
    expect(run.stdout).toMatch(/Primary: Open/);
    expect(run.stdout).not.toMatch(/Blocked/);
    expect(run.code).toBe(0x01);
  });
});

describe('the drop log', () => {
  it('logs what was dropped, by reason, once per interval and only when something was', async () => {
    const lines: string[] = [];
    const port = randomPort();
    const server = await startStunServer({ address: '127.0.0.1', port, alternatePort: port + 1, software: 'test', workers: 1, dropLogIntervalMs: 400 }, (line) => lines.push(line));
    try {
      const socket = await openSocket();
      for (let i = 0; i < 3; i += 1) socket.send(Buffer.from('not STUN at all'), port, '127.0.0.1');
      const overrun = Buffer.from('000100042112a442' + '00'.repeat(12) + '00030008', 'hex'); // an attribute longer than the message
      socket.send(overrun, port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      socket.close();
      const drops = lines.filter((line) => line.includes('dropped'));
      expect(drops).toEqual(['natscope stun: dropped in the last 0.4 s: 3 not-stun, 1 malformed']);
    } finally {
      await server.close();
    }
  });
});
