import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Debian's RFC 3489 client (package stun-client), by its full path: under `npm test` node_modules/.bin comes first
 * on PATH, and the `stun` npm package puts a `stun` there too (a server).
 */
export const DEBIAN_STUN_CLIENT = '/usr/bin/stun';

/** The built CLI (npm test builds it first). */
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly elapsedMs: number;
}

/** Runs a command to its end (killed after `timeoutMs`). */
export function runCommand(command: string, args: readonly string[], timeoutMs = 60_000): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, elapsedMs: performance.now() - started });
    });
  });
}

/** Runs the natscope CLI. */
export function runNatscope(args: readonly string[], timeoutMs?: number): Promise<Finished> {
  return runCommand(process.execPath, [CLI, ...args], timeoutMs);
}

/** A long-running process started by a test. */
export interface Service {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a process and waits until its output matches `ready`; fails with its output if it exits or times out. */
export function startService(command: string, args: readonly string[], ready: RegExp, timeoutMs = 10_000): Promise<Service> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let done = false;
    const service: Service = {
      child,
      output: () => output,
      stop: () =>
        new Promise((stopped) => {
          if (child.exitCode !== null || child.signalCode !== null) return stopped();
          child.once('close', () => stopped());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        }),
    };
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (!done && ready.test(output)) {
        done = true;
        clearTimeout(timer);
        resolve(service);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} not ready after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('error', (error) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(error);
      }
    });
    child.on('exit', (code) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(new Error(`${command} exited with ${code} before it was ready:\n${output}`));
      }
    });
  });
}

/** A UDP port number unlikely to be in use, in 20000-59999. */
export function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 20000) * 2;
}
