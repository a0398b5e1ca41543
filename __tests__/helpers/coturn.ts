import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomPort, startService, type Service } from './processes.js';

/** coturn from Debian's package; .ci/run installs it. Missing coturn fails the suite with the reason. */
export function requireCoturn(): void {
  try {
    execFileSync('sh', ['-c', 'command -v turnserver && command -v turnutils_natdiscovery'], { stdio: 'ignore' });
  } catch {
    throw new Error('coturn is not installed: apt-get install coturn (gives turnserver and turnutils_natdiscovery)');
  }
}

/** Reads turnutils_natdiscovery's verdict lines ("NAT with Endpoint Independent Mapping!"). */
export function parseNatDiscovery(output: string): { mapping?: string; filtering?: string } {
  const words: Record<string, string> = {
    'Endpoint Independent': 'endpoint-independent',
    'Address Dependent': 'address-dependent',
    'Address and Port Dependent': 'address-and-port-dependent',
  };
  const find = (what: string): string | undefined => {
    const match = new RegExp(`NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) ${what}`).exec(output);
    return match?.[1] === undefined ? undefined : words[match[1]];
  };
  const mapping = find('Mapping');
  const filtering = find('Filtering');
  return { ...(mapping === undefined ? {} : { mapping }), ...(filtering === undefined ? {} : { filtering }) };
}


/** A coturn turnserver started by a test: its own PID, ports and scratch files. */
export interface Coturn extends Service {
  readonly pid: number;
  readonly port: number;
  readonly altPort: number;
}

/**
 * Starts `turnserver` as a STUN-only RFC 5780 server on two addresses, on a free random port pair (another pair is
 * tried when coturn reports a port in use), with its pid file and database in a fresh temporary folder, so that
 * several test runs on one host never share or stop each other's servers. `prefix` runs it elsewhere
 * (e.g. `ip netns exec NS`); stop it with `stop()`, which signals this PID only.
 */
export async function startCoturn(addresses: readonly [string, string], options: { prefix?: readonly string[]; port?: number } = {}): Promise<Coturn> {
  requireCoturn();
  const scratch = mkdtempSync(join(tmpdir(), 'natscope-coturn-'));
  let lastOutput = '';
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = options.port ?? randomPort();
    const [command = 'turnserver', ...args] = [
      ...(options.prefix ?? []),
      'turnserver',
      // -c /dev/null: Debian's /etc/turnserver.conf says no-rfc5780.
      '-c', '/dev/null',
      '-L', addresses[0], '-L', addresses[1],
      '-p', String(port), '--alt-listening-port', String(port + 1),
      // STUN only, UDP only: no relay ports, no TCP/TLS/DTLS listeners, no CLI port that could collide.
      '--stun-only', '--no-tcp', '--no-tls', '--no-dtls', '--no-cli',
      '--pidfile', join(scratch, `turnserver-${port}.pid`), '--userdb', join(scratch, 'turndb'),
      '--log-file', 'stdout', '--simple-log',
    ];
    const service = await startService(command, args, /Total General servers|Cannot bind/);
    // Give a late bind failure on the other listeners a moment to show.
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (!/Cannot bind/.test(service.output())) {
      const stop = async (): Promise<void> => {
        await service.stop();
        rmSync(scratch, { recursive: true, force: true });
      };
      return { ...service, stop, pid: service.child.pid ?? -1, port, altPort: port + 1 };
    }
    lastOutput = service.output();
    await service.stop();
    if (options.port !== undefined) break;
  }
  rmSync(scratch, { recursive: true, force: true });
  throw new Error(`turnserver could not bind its ports:\n${lastOutput}`);
}
