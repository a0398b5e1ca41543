import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { CLI, randomPort, runCommand, runNatscope, startService, type Service } from '../helpers/processes.js';

/** coturn from Debian's package; .ci/run installs it. Missing coturn fails the suite with the reason. */
function requireCoturn(): void {
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

describe('interop with coturn, both directions', () => {
  const coturnPort = randomPort();
  const natscopePort = randomPort() + 2;
  let coturn: Service;
  let natscope: Service;

  beforeAll(async () => {
    requireCoturn();
    // -c /dev/null: Debian's /etc/turnserver.conf says no-rfc5780.
    coturn = await startService(
      'turnserver',
      ['-c', '/dev/null', '-L', '127.0.0.1', '-L', '127.0.0.2', '-p', String(coturnPort), '--alt-listening-port', String(coturnPort + 1), '--no-cli', '--no-tls', '--no-dtls', '--log-file', 'stdout', '--simple-log'],
      /Total General servers/,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    natscope = await startService(process.execPath, [CLI, 'serve', 'stun', '--address', '127.0.0.1', '--alt-address', '127.0.0.2', '--port', String(natscopePort), '--alt-port', String(natscopePort + 1)], /listening on/);
  });
  afterAll(async () => {
    await coturn?.stop();
    await natscope?.stop();
  });

  it('natscope classify against coturn turnserver: RFC 5780 server, no NAT, endpoint-independent', async () => {
    const run = await runNatscope(['classify', `127.0.0.1:${coturnPort}`, '--json']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ serverSupportsRfc5780: true, nat: false, mapping: 'endpoint-independent', filtering: 'endpoint-independent', rfc3489: 'open-internet' });
  });

  it('coturn turnutils_natdiscovery -m -f against natscope serve stun agrees', async () => {
    const run = await runCommand('turnutils_natdiscovery', ['-m', '-f', '127.0.0.1', '-p', String(natscopePort)], 30_000);
    expect(parseNatDiscovery(run.stdout + run.stderr)).toEqual({ mapping: 'endpoint-independent', filtering: 'endpoint-independent' });
    const ours = JSON.parse((await runNatscope(['classify', `127.0.0.1:${natscopePort}`, '--json'])).stdout);
    expect(parseNatDiscovery(run.stdout + run.stderr)).toEqual({ mapping: ours.mapping, filtering: ours.filtering });
  });
});
