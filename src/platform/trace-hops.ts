import { spawn } from 'node:child_process';
import { isIP } from 'node:net';

/** The routers on the way to a host, by hop number, as far as tracepath saw them in time. */
export interface HopTrace {
  readonly hops: ReadonlyArray<{ readonly hop: number; readonly address: string }>;
  /** Why there are no hops, when there are none. */
  readonly reason: string | undefined;
}

/** Reads `tracepath -n` output: lines like " 2:  100.64.0.1   0.321ms". Pure. */
export function parseTracepath(text: string): Array<{ hop: number; address: string }> {
  const hops = new Map<number, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*(\d+):\s+(\S+)/.exec(line);
    if (match === null) continue;
    const hop = Number(match[1]);
    const address = match[2] ?? '';
    if (isIP(address) === 0 || hops.has(hop)) continue;
    hops.set(hop, address);
  }
  return [...hops].map(([hop, address]) => ({ hop, address })).sort((a, b) => a.hop - b.hop);
}

/**
 * Runs `tracepath -n -m maxHops host` (iputils, no root needed) for at most `timeoutMs`, then stops it by its
 * PID and reads what it printed. Never throws: a missing tracepath is a reason.
 */
export function traceHops(host: string, maxHops = 3, timeoutMs = 2_500): Promise<HopTrace> {
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    const child = spawn('tracepath', ['-n', '-m', String(maxHops), host], { stdio: ['ignore', 'pipe', 'ignore'] });
    const finish = (reason?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const hops = parseTracepath(output);
      resolve({ hops, reason: hops.length > 0 ? undefined : (reason ?? 'tracepath saw no router answer') });
    };
    const timer = setTimeout(() => finish(`tracepath gave no hops within ${timeoutMs} ms`), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (output.length < 16_384) output += chunk.toString('utf8');
    });
    child.on('error', (error) => finish(`tracepath could not run (${error.message}); install iputils-tracepath to look for a carrier-grade NAT hop`));
    child.on('close', () => finish());
  });
}
