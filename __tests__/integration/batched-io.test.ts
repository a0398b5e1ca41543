import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { createSocket, type Socket } from 'node:dgram';
import { AttributeType } from '../../src/codec/constants.js';
import { createTransactionId, encodeBindingRequest } from '../../src/codec/encode.js';
import { decodeStunMessage } from '../../src/codec/decode.js';
import { startStunServer, type RunningStunServer, type ServeStunOptions } from '../../src/cli/commands/serve-stun.js';
import { ExitCode } from '../../src/cli/exit-codes.js';
import { loadUdpBatch } from '../../src/platform/udp-batch.js';
import { withRawAttribute } from '../helpers/fixtures.js';
import { CLI, randomPort, runNatscope, startService, type Service } from '../helpers/processes.js';

// The batched I/O addon (native/udp-batch.c, recvmmsg/sendmmsg) on real loopback sockets. CI builds it
// (NATSCOPE_REQUIRE_NATIVE=1 in .ci/run), so these tests run there; they fail, never skip, when it is missing.
jest.setTimeout(60_000);

let servers: RunningStunServer[] = [];
let services: Service[] = [];
let sockets: Socket[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(services.map((s) => s.stop()));
  for (const s of sockets) s.close();
  servers = [];
  services = [];
  sockets = [];
});

async function openSocket(family: 4 | 6 = 4): Promise<Socket> {
  const socket = createSocket(family === 4 ? 'udp4' : 'udp6');
  await new Promise<void>((resolve) => socket.bind(0, family === 4 ? '127.0.0.1' : '::1', () => resolve()));
  sockets.push(socket);
  return socket;
}

async function start(options: Partial<ServeStunOptions> & { port: number }): Promise<RunningStunServer> {
  const server = await startStunServer({ address: '127.0.0.1', alternateAddress: '127.0.0.2', alternatePort: options.port + 1, software: 'natscope test', workers: 1, rateLimit: 'off', ...options }, () => {});
  servers.push(server);
  return server;
}

/** Sends each request from `socket` (one at a time) and collects the answers that arrive within 300 ms. */
async function ask(socket: Socket, port: number, requests: readonly Uint8Array[], to = '127.0.0.1'): Promise<string[]> {
  const answers: string[] = [];
  const onMessage = (m: Buffer, from: { address: string; port: number }): void => {
    answers.push(`${from.address}:${from.port === port ? 'P' : from.port === port + 1 ? 'A' : from.port} ${m.toString('hex')}`);
  };
  socket.on('message', onMessage);
  for (const request of requests) {
    socket.send(request, port, to);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  socket.off('message', onMessage);
  return answers;
}

describe('batched UDP I/O (recvmmsg/sendmmsg addon) on loopback', () => {
  it('is built and loads', () => {
    const load = loadUdpBatch();
    expect(load.addon === undefined ? load.reason : 'loaded').toBe('loaded');
  });

  it('answers byte for byte as node:dgram does, from the same sockets, to the same places', async () => {
    const port = randomPort();
    const client = await openSocket();
    const other = await openSocket();
    const otherPort = other.address().port;
    const legacy = Buffer.from(encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false }));
    legacy.writeUInt32BE(0x01020304, 4); // no magic cookie: RFC 3489
    const requests = [
      encodeBindingRequest({ transactionId: createTransactionId() }),
      encodeBindingRequest({ transactionId: createTransactionId(), changeRequest: { changeIp: true, changePort: false } }),
      encodeBindingRequest({ transactionId: createTransactionId(), changeRequest: { changeIp: false, changePort: true } }),
      encodeBindingRequest({ transactionId: createTransactionId(), changeRequest: { changeIp: true, changePort: true } }),
      withRawAttribute(encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false }), AttributeType.PADDING, new Uint8Array(400)),
      // 2,024 bytes, the most a read slot holds: its padded answer is longer than the request.
      withRawAttribute(encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false }), AttributeType.PADDING, new Uint8Array(2000)),
      withRawAttribute(encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false }), 0x0077, new Uint8Array(4)), // unknown, comprehension-required: 420
      legacy,
      Uint8Array.from([0xde, 0xad, 0xbe, 0xef]),
      new Uint8Array(1600), // zeros: a header with a wrong length, dropped
    ];
    const redirected = withRawAttribute(encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false }), AttributeType.RESPONSE_PORT, Uint8Array.of(otherPort >> 8, otherPort & 0xff, 0, 0));

    const run = async (io: 'batched' | 'dgram'): Promise<{ answers: string[]; redirected: string[] }> => {
      const server = await start({ port, io });
      const answers = await ask(client, port, requests);
      const got: string[] = [];
      const onOther = (m: Buffer): void => void got.push(m.toString('hex'));
      other.on('message', onOther);
      await ask(client, port, [redirected]);
      other.off('message', onOther);
      await server.close();
      servers = servers.filter((s) => s !== server);
      return { answers, redirected: got };
    };
    const batched = await run('batched');
    const dgram = await run('dgram');
    expect(batched.answers).toHaveLength(8); // 4 successes, the two padded ones, the 420, the RFC 3489 answer
    expect(Math.max(...batched.answers.map((a) => a.split(' ')[1]!.length / 2))).toBeGreaterThan(2048);
    expect(batched.answers.filter((a) => a.startsWith('127.0.0.2:A'))).toHaveLength(1);
    expect(batched).toEqual(dgram);
    expect(batched.redirected).toHaveLength(1);
  });

  it('drops a datagram longer than its 2,048-byte read slot, and says so in its counts', async () => {
    const port = randomPort();
    const logs: string[] = [];
    const server = await startStunServer({ address: '127.0.0.1', port, alternatePort: port + 1, software: 'x', workers: 1, io: 'batched', rateLimit: 'off', dropLogIntervalMs: 200 }, (line) => logs.push(line));
    servers.push(server);
    const client = await openSocket();
    const big = withRawAttribute(encodeBindingRequest({ transactionId: createTransactionId(), fingerprint: false }), AttributeType.PADDING, new Uint8Array(2100));
    expect(await ask(client, port, [big])).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(logs.join('\n')).toMatch(/dropped in the last 0\.2 s: 1 not-stun/);
  });

  it('serves IPv6 (::1) with the IPv6 address in XOR-MAPPED-ADDRESS', async () => {
    const port = randomPort();
    const server = await startStunServer({ address: '::1', port, alternatePort: port + 1, software: 'x', workers: 1, io: 'batched' }, () => {});
    servers.push(server);
    const client = await openSocket(6);
    const answers = await ask(client, port, [encodeBindingRequest({ transactionId: createTransactionId() })], '::1');
    expect(answers).toHaveLength(1);
    const response = decodeStunMessage(Buffer.from(answers[0]!.split(' ')[1]!, 'hex'));
    expect(response.xorMappedAddress).toEqual({ family: 'IPv6', address: '::1', port: client.address().port });
  });

  it('answers a burst of 600 requests from one socket (many datagrams per recvmmsg)', async () => {
    const port = randomPort();
    await start({ port, io: 'batched' });
    const client = await openSocket();
    const ids = new Set<string>();
    client.on('message', (m: Buffer) => ids.add(m.subarray(8, 20).toString('hex')));
    for (let i = 0; i < 600; i += 1) {
      client.send(encodeBindingRequest({ transactionId: createTransactionId() }), port, '127.0.0.1');
      if (i % 60 === 59) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const deadline = Date.now() + 5000;
    while (ids.size < 600 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    // Loopback loses a datagram only when a receive buffer is full; a stalled CI machine may, so a wide margin.
    expect(ids.size).toBeGreaterThanOrEqual(540);
  });

  it('names the address, the port and the cause when the port is taken', async () => {
    const taken = await openSocket();
    const port = taken.address().port;
    await expect(start({ port, io: 'batched', alternateAddress: undefined })).rejects.toThrow(new RegExp(`Cannot bind UDP socket to 127\\.0\\.0\\.1:${port}: bind 127\\.0\\.0\\.1:${port}: Address already in use`));
  });

  it('spreads flows over two workers (SO_REUSEPORT), refuses a second server on the port, and `--io dgram` still works', async () => {
    const port = randomPort();
    const metricsPort = randomPort() + 1;
    const args = ['serve', 'stun', '--address', '127.0.0.1', '--alt-address', '127.0.0.2', '--port', String(port), '--alt-port', String(port + 1), '--workers', '2', '--rate-limit', '0'];
    const batched = await startService(process.execPath, [CLI, ...args, '--metrics', `127.0.0.1:${metricsPort}`], /listening on/, 20_000);
    services.push(batched);
    expect(batched.output()).toMatch(/2 workers .*batched I\/O \(recvmmsg\/sendmmsg\)/);
    const client = await openSocket();
    const answers = await ask(client, port, [encodeBindingRequest({ transactionId: createTransactionId(), changeRequest: { changeIp: true, changePort: true } })]);
    expect(answers.map((a) => a.split(' ')[0])).toEqual(['127.0.0.2:A']);
    // 16 flows (16 source ports): the kernel hashes each to one worker; all on one worker would be a 1 in 32,768 chance.
    const flows = await Promise.all(Array.from({ length: 16 }, () => openSocket()));
    const got = await Promise.all(flows.map((socket) => ask(socket, port, [encodeBindingRequest({ transactionId: createTransactionId() })])));
    expect(got.flat()).toHaveLength(16);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const perWorker = [1, 2].map((n) => Number(new RegExp(`natscope_stun_responses_total\\{worker="${n}",type="success"\\} (\\d+)`).exec(metrics)?.[1] ?? 0));
    expect(perWorker[0]! + perWorker[1]!).toBe(17);
    expect(Math.min(...perWorker)).toBeGreaterThan(0);
    // SO_REUSEPORT would let a second server of the same user share the port: it is refused instead.
    const second = await runNatscope([...args], 20_000);
    expect(second.code).toBe(ExitCode.SYSTEM);
    expect(second.stderr).toMatch(new RegExp(`Cannot bind UDP socket to 127\\.0\\.0\\.1:${port}: .*Address already in use`));

    const dgramPort = randomPort();
    const dgram = await startService(process.execPath, [CLI, 'serve', 'stun', '--address', '127.0.0.1', '--port', String(dgramPort), '--workers', '1', '--io', 'dgram'], /listening on/, 20_000);
    services.push(dgram);
    expect(dgram.output()).toMatch(/1 worker; node:dgram I\/O \(--io dgram\)/);
    expect(await ask(client, dgramPort, [encodeBindingRequest({ transactionId: createTransactionId() })])).toHaveLength(1);
  });
});
