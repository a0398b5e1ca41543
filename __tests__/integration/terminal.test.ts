import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import { CLI, randomPort, runNatscope, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(60_000);

/** Columns each screen line takes: output split where a terminal starts a new line or returns to column 1. */
function screenLineWidths(output: string): number[] {
  return output
    .split(/\r?\n|\r|\u001b\[1?G/)
    .map((line) => [...stripVTControlCharacters(line)].length);
}

interface PtyRun {
  readonly code: number | null;
  readonly output: string;
  readonly elapsedMs: number;
}

/**
 * Runs natscope in a real pseudo-terminal (util-linux `script`) of `columns` columns, as a person would, without
 * CI set; `whileRunning` may type into the terminal (Ctrl-C is "\x03").
 */
function runInPty(columns: number, args: string, whileRunning?: (type: (keys: string) => void) => void, timeoutMs = 30_000): Promise<PtyRun> {
  const env = { ...process.env };
  delete env.CI;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('script', ['-qfec', `stty cols ${columns} rows 40; exec "${process.execPath}" "${CLI}" ${args}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, elapsedMs: performance.now() - started });
    });
    whileRunning?.((keys) => child.stdin.write(keys));
  });
}

/** A UDP socket on loopback that receives and never answers: a run against it goes on until stopped. */
async function silentListener(): Promise<{ socket: Socket; port: number; firstDatagram: Promise<void> }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const firstDatagram = new Promise<void>((resolve) => socket.once('message', () => resolve()));
  return { socket, port: socket.address().port, firstDatagram };
}

const port = randomPort();
let server: Service;

beforeAll(async () => {
  execFileSync('sh', ['-c', 'command -v script'], { stdio: 'ignore' });
  server = await startService(process.execPath, [CLI, 'serve', 'stun', '--address', '127.0.0.1', '--alt-address', '127.0.0.2', '--port', String(port), '--alt-port', String(port + 1)], /listening on/);
});
afterAll(async () => {
  await server?.stop();
});

describe('natscope classify in a real terminal', () => {
  it('fits an 80-column terminal: no screen line is wider than 80, spinner included', async () => {
    const run = await runInPty(80, `classify 127.0.0.1:${port}`);
    expect(run.code).toBe(0);
    expect(run.output).toContain('No NAT');
    expect(Math.max(...screenLineWidths(run.output))).toBeLessThanOrEqual(80);
  });

  it('ends within seconds with the verdict in a terminal that reports 0 columns (no spinner loop)', async () => {
    const run = await runInPty(0, `classify 127.0.0.1:${port}`, undefined, 20_000);
    expect(run.code).toBe(0);
    expect(run.elapsedMs).toBeLessThan(10_000);
    expect(run.output).toContain('No NAT');
    expect(run.output.length).toBeLessThan(50_000);
  });

  it.each([80, 0])('stops at Ctrl-C with exit 130 in a %i-column terminal, spinner gone and cursor shown', async (columns) => {
    const silent = await silentListener();
    try {
      let typedAt = 0;
      const run = await runInPty(columns, `classify 127.0.0.1:${silent.port}`, (type) => {
        void silent.firstDatagram.then(() =>
          setTimeout(() => {
            typedAt = performance.now();
            type('\u0003');
          }, 500),
        );
      });
      expect(run.code).toBe(130);
      expect(run.output).toContain('natscope: interrupted by SIGINT');
      // ora hides the cursor while it spins and shows it again when stopped; at 0 columns it never starts.
      if (columns === 80) expect(run.output.lastIndexOf('\u001b[?25h')).toBeGreaterThan(run.output.lastIndexOf('\u001b[?25l'));
      else expect(run.output).not.toContain('\u001b[?25l');
      expect(performance.now() - typedAt).toBeLessThan(5_000);
    } finally {
      silent.socket.close();
    }
  });
});

describe('signals and --json', () => {
  it('SIGTERM ends a --json run at once with 143 and one JSON object saying so', async () => {
    const silent = await silentListener();
    try {
      const child = spawn(process.execPath, [CLI, 'classify', `127.0.0.1:${silent.port}`, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      await silent.firstDatagram;
      const sentAt = performance.now();
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(143);
      expect(performance.now() - sentAt).toBeLessThan(5_000);
      expect(JSON.parse(stdout)).toEqual({ schema: 'natscope.classify/1', error: { code: 'ERR_INTERRUPTED', message: 'interrupted by SIGTERM' }, exitCode: 143 });
    } finally {
      silent.socket.close();
    }
  });

  it.each([
    [['classify', 'no-such-host.invalid', '--json'], 3, 'ERR_HOST_UNRESOLVABLE', /Cannot resolve no-such-host\.invalid/],
    [['classify', '127.0.0.1', '--json', '--expect', 'colour=blue'], 2, 'ERR_USAGE', /--expect colour: no such field/],
    [['classify', '127.0.0.1', '--json', '--family', '5'], 2, 'ERR_USAGE', /family/],
    [['classify', '127.0.0.1', '--json', '--family', '6'], 2, 'ERR_USAGE', /--family 6 does not match the IPv4 server address 127\.0\.0\.1/],
    [['punch', '127.0.0.1', '--json', '--max-mappings', '3'], 2, 'ERR_USAGE', /--max-mappings must be a whole number ≥ 8, not "3"/],
  ])('natscope %j prints one JSON object with the error and exits %i', async (args, exitCode, code, message) => {
    const run = await runNatscope(args as string[]);
    expect(run.code).toBe(exitCode);
    const object = JSON.parse(run.stdout);
    expect(object).toMatchObject({ schema: (args as string[])[0] === 'punch' ? 'natscope.punch/1' : 'natscope.classify/1', error: { code }, exitCode });
    expect(object.error.message).toMatch(message as RegExp);
  });
});

describe('usage errors name what the user typed (exit 2)', () => {
  it.each([
    [['classify', '127.0.0.1', '--rto', 'abc'], /--rto must be a positive number of ms, not "abc"/],
    [['classify', '127.0.0.1', '--family', '6'], /--family 6 does not match the IPv4 server address 127\.0\.0\.1/],
    [['punch', '127.0.0.1', '--family', '6'], /--family 6 does not match the IPv4 server address 127\.0\.0\.1/],
    [['serve', 'echo', '--address', '127.0.0.1', '--port', '65535'], /--port 65535 leaves no room for the alternate port \(port \+ 1 = 65536\)/],
    [['serve', 'stun', '--address', '127.0.0.1', '--port', 'http'], /--port must be a port number 1-65535, not "http"/],
  ])('natscope %j', async (args, message) => {
    const run = await runNatscope(args as string[]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message as RegExp);
    expect(run.stderr).not.toMatch(/NaN/);
  });

  it('--version prints the version in package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const run = await runNatscope(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });
});
