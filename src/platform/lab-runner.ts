import { spawnSync } from 'node:child_process';
import { LabError } from '../errors.js';
import type { LabCommand } from '../lab/topology.js';

/** Checks what the lab needs: Linux, root, and the ip, nft, conntrack and sysctl commands. Throws LabError saying how to fix it. */
export function checkLabPrerequisites(): void {
  if (process.platform !== 'linux') throw new LabError(`the lab needs Linux network namespaces; this is ${process.platform}`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new LabError('the lab needs root to create network namespaces: run it with sudo');
  }
  const missing = [
    ['ip', 'iproute2'],
    ['nft', 'nftables'],
    ['conntrack', 'conntrack'],
    // Forwarding and the NAT namespaces' conntrack timeouts (--udp-timeout) are set with sysctl.
    ['sysctl', 'procps'],
  ].filter(([tool]) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length > 0) {
    throw new LabError(
      `the lab needs ${missing.map(([tool]) => tool).join(', ')}: install with apt-get install ${missing.map(([, pkg]) => pkg).join(' ')}`,
    );
  }
}

/** Runs lab commands in order; the first failure that is not allowed throws LabError with the command and its stderr. */
export function runLabCommands(commands: readonly LabCommand[]): void {
  for (const command of commands) {
    const [file, ...args] = command.argv;
    const result = spawnSync(file ?? 'true', args, { input: command.input ?? '', encoding: 'utf8' });
    if ((result.status !== 0 || result.error !== undefined) && command.mayFail !== true) {
      const detail = (result.stderr || result.error?.message || `exit ${result.status}`).trim();
      throw new LabError(`lab command failed: ${command.argv.join(' ')}: ${detail}`);
    }
  }
}

/** Lists the network namespaces that exist. */
export function listNamespaces(): string[] {
  const result = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (result.stdout ?? '').split('\n').map((line) => line.split(' ')[0] ?? '').filter(Boolean);
}
