import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { decodeEchoMessage, encodeEchoMessage, type EchoMessage } from '../../src/protocol/echo-messages.js';
import { CLI, randomPort, runNatscope, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(60_000);

const services: Service[] = [];
afterAll(async () => {
  for (const service of services) await service.stop();
});

async function serveEcho(...flags: string[]): Promise<number> {
  const port = randomPort();
  services.push(await startService(process.execPath, [CLI, 'serve', 'echo', '--address', '127.0.0.1', '--port', String(port), '--alt-port', '0', ...flags], /listening on/));
  return port;
}

/** Sends REGISTERs with fresh tokens from one socket, one at a time, and collects the answers (undefined: none in 1 s). */
async function registerMany(port: number, count: number, bind = '127.0.0.1'): Promise<Array<EchoMessage | undefined>> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, bind, resolve));
  const answers: Array<EchoMessage | undefined> = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const answer = new Promise<EchoMessage | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), 1000);
        socket.once('message', (bytes) => {
          clearTimeout(timer);
          resolve(decodeEchoMessage(new Uint8Array(bytes)));
        });
      });
      socket.send(encodeEchoMessage({ type: 'register', token: new Uint8Array(randomBytes(16)) }), port, '127.0.0.1');
      answers.push(await answer);
    }
  } finally {
    socket.close();
  }
  return answers;
}

describe('natscope serve echo refuses with BUSY, never silence', () => {
  it('answers the 257th registration of one source with BUSY source-limit, and registers another source', async () => {
    const port = await serveEcho();
    const answers = await registerMany(port, 257);
    expect(answers.slice(0, 256).every((a) => a?.type === 'registered')).toBe(true);
    expect(answers[256]).toMatchObject({ type: 'busy', reason: 'source-limit' });
    expect((answers[256] as { retryAfterMs: number }).retryAfterMs).toBeGreaterThanOrEqual(1000);
    const [other] = await registerMany(port, 1, '127.0.0.2');
    expect(other).toMatchObject({ type: 'registered' });
  });

  it('--rate-limit 1,2 answers the third quick REGISTER with BUSY rate-limited', async () => {
    const port = await serveEcho('--rate-limit', '1,2');
    const answers = await registerMany(port, 3);
    expect(answers.map((a) => a?.type)).toEqual(['registered', 'registered', 'busy']);
    expect(answers[2]).toMatchObject({ reason: 'rate-limited', retryAfterMs: 1000 });
  });

  it('says how it is limited when it starts, and rejects bad limit flags with exit 2', async () => {
    const port = randomPort();
    const service = await startService(process.execPath, [CLI, 'serve', 'echo', '--address', '127.0.0.1', '--port', String(port), '--rate-limit', '0', '--max-sources', '1000'], /listening on/);
    services.push(service);
    expect(service.output()).toMatch(/rate limit off, 1000 sources, 256 registrations per source/);
    for (const flags of [['--rate-limit', 'fast'], ['--rate-limit', '0,5'], ['--max-sources', '0']]) {
      const run = await runNatscope(['serve', 'echo', '--address', '127.0.0.1', '--port', String(randomPort()), ...flags]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`natscope: ${flags[0]}`));
    }
  });
});
