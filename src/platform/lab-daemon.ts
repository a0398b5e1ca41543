import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { LabError } from '../errors.js';

const sleepMs = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/** A daemon the lab started: its PID is recorded in `pidFile` so `lab down` stops exactly it. */
export interface LabDaemon {
  readonly pid: number;
  readonly pidFile: string;
}

/**
 * Starts `argv` detached with output to `logPath`, records its PID, and waits up to `readyTimeoutMs` until
 * `ready(log)` holds. Throws LabError (after stopping it) when it dies or never gets ready.
 */
export function startLabDaemon(argv: readonly string[], files: { dir: string; log: string; pidFile: string }, ready: (log: string) => boolean, readyTimeoutMs = 5_000): LabDaemon {
  mkdirSync(files.dir, { recursive: true });
  const out = openSync(files.log, 'w');
  const [file, ...args] = argv;
  const child = spawn(file ?? 'false', args, { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new LabError(`cannot start ${argv.join(' ')}`);
  // The program's name goes beside the PID: lab down stops the PID only while it still runs that program.
  const program = argv.find((arg) => arg.startsWith('/')) ?? file ?? '';
  writeFileSync(files.pidFile, `${pid}\n${program}\n`);
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    const log = readFileSync(files.log, 'utf8');
    if (ready(log)) return { pid, pidFile: files.pidFile };
    if (!isRunning(pid) || Date.now() > deadline) {
      stopLabDaemon(files.pidFile);
      throw new LabError(`${argv.slice(-5).join(' ')} did not get ready in ${readyTimeoutMs} ms: ${log.trim().split('\n').slice(-3).join(' | ')}`);
    }
    sleepMs(50);
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** Stops the daemon whose PID `pidFile` holds (SIGTERM, then SIGKILL after 2 s); nothing when there is none. */
export function stopLabDaemon(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const [pidText = '', program = ''] = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number.parseInt(pidText, 10);
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 1 || !isRunning(pid)) return;
  // A PID reused by another program since is not ours to stop.
  if (program !== '' && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(program)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 2_000;
  while (isRunning(pid) && Date.now() < deadline) sleepMs(50);
  if (isRunning(pid)) process.kill(pid, 'SIGKILL');
}
