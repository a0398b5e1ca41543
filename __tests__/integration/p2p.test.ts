import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect } from '../../src/index.js';
import { CLI, randomPort, runNatscope, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(60_000);

const port = randomPort();
const stunPort = port + 1;
let server: Service;
const room = (): string => `room-${randomBytes(6).toString('hex')}`;

beforeAll(async () => {
  server = await startService(
    process.execPath,
    [CLI, 'serve', 'rendezvous', '--address', '127.0.0.1', '--alt-address', '127.0.0.2', '--port', String(port), '--stun-port', String(stunPort), '--alt-stun-port', String(stunPort + 1)],
    /listening on/,
  );
});
afterAll(async () => {
  await server?.stop();
});

describe('natscope p2p on loopback (natscope serve rendezvous + two peers)', () => {
  it('finds the direct path both ways: direct true, exit 0, the prediction held', async () => {
    const name = room();
    const args = ['p2p', `127.0.0.1:${port}`, '--stun', `127.0.0.1:${stunPort}`, '--room', name, '--json', '--wait', '20', '--expect', 'direct=true'];
    const [a, b] = await Promise.all([runNatscope(args), runNatscope(args)]);
    for (const run of [a, b]) {
      expect(run.code).toBe(0);
      const report = JSON.parse(run.stdout);
      expect(report).toMatchObject({ schema: 'natscope.p2p/1', direct: true, technique: 'simultaneous-open', predicted: 'direct', predictionHeld: true, error: null, reason: null });
      expect(report.self.classification).toMatchObject({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', rfc3489: 'open-internet' });
      expect(report.pair.remote.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(report.timeToDirectMs).toBeLessThan(1000);
      expect(report.path.lossPercent).toBe(0);
    }
    expect(JSON.parse(a.stdout).pair.local.address).toBe(JSON.parse(b.stdout).pair.remote.address);
  });

  it('exits 1 when an --expect is not met (direct=false is an answer, so expecting it of a direct pair fails)', async () => {
    const name = room();
    const [a, b] = await Promise.all([
      runNatscope(['p2p', `127.0.0.1:${port}`, '--stun', `127.0.0.1:${stunPort}`, '--room', name, '--wait', '20', '--expect', 'direct=false']),
      runNatscope(['p2p', `127.0.0.1:${port}`, '--stun', `127.0.0.1:${stunPort}`, '--room', name, '--wait', '20']),
    ]);
    expect(a.code).toBe(1);
    expect(a.stdout).toMatch(/^Direct connection: /);
    expect(a.stdout).toMatch(/✘ expected direct=false, got true/);
    expect(b.code).toBe(0);
  });

  it('is inconclusive (exit 3) within --wait when the peer never comes', async () => {
    const run = await runNatscope(['p2p', `127.0.0.1:${port}`, '--stun', `127.0.0.1:${stunPort}`, '--room', room(), '--json', '--wait', '3']);
    expect(run.code).toBe(3);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ direct: false, pair: null, predictionHeld: null });
    expect(report.error).toMatch(/the peer did not come to the room within 3 s/);
    // Classification (well under a second on loopback) plus the wait.
    expect(run.elapsedMs).toBeLessThan(3000 + 5000);
  });

  it('is inconclusive (exit 3) when the rendezvous server never answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'natscope-p2p-'));
    const assume = join(dir, 'classify.json');
    writeFileSync(assume, JSON.stringify({ mapping: 'endpoint-independent', filtering: 'endpoint-independent', rfc3489: 'open-internet', portAllocation: { pattern: 'preserved' } }));
    const run = await runNatscope(['p2p', `127.0.0.1:${randomPort()}`, '--room', room(), '--assume', assume, '--wait', '2']);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/^Inconclusive: no answer from the rendezvous server 127\.0\.0\.1:\d+ in 2 s/);
  });

  it('exits 2 on bad usage', async () => {
    expect((await runNatscope(['p2p', `127.0.0.1:${port}`])).code).toBe(2);
    expect((await runNatscope(['p2p', `127.0.0.1:${port}`, '--stun', `127.0.0.1:${stunPort}`, '--room', 'x', '--wait', '0'])).code).toBe(2);
    expect((await runNatscope(['p2p', `127.0.0.1:${port}`, '--stun', `127.0.0.1:${stunPort}`, '--room', 'x', '--expect', 'colour=blue'])).code).toBe(2);
  });
});

describe('connect() on loopback', () => {
  it('resolves to the report plus the open punched socket and the peer\'s address, which carry data', async () => {
    const name = room();
    const options = { rendezvous: `127.0.0.1:${port}`, stun: `127.0.0.1:${stunPort}`, room: name, waitMs: 20_000 };
    const [a, b] = await Promise.all([connect(options), connect(options)]);
    try {
      expect(a.direct && b.direct).toBe(true);
      const received = new Promise<string>((resolve) => b.socket!.onDatagram((bytes) => resolve(Buffer.from(bytes).toString())));
      a.socket!.send(new TextEncoder().encode('hello peer'), a.peerAddress!);
      await expect(received).resolves.toBe('hello peer');
    } finally {
      a.socket?.close();
      b.socket?.close();
    }
  });
});
