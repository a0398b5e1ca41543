import { execFileSync } from 'node:child_process';

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

