import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { parseNatDiscovery, startCoturn, type Coturn } from '../helpers/coturn.js';
import { CLI, randomPort, runCommand, runNatscope, startService, type Service } from '../helpers/processes.js';

jest.setTimeout(60_000);

describe('interop with coturn, both directions', () => {
  const natscopePort = randomPort();
  let coturn: Coturn;
  let natscope: Service;

  beforeAll(async () => {
    coturn = await startCoturn(['127.0.0.1', '127.0.0.2']);
    natscope = await startService(process.execPath, [CLI, 'serve', 'stun', '--address', '127.0.0.1', '--alt-address', '127.0.0.2', '--port', String(natscopePort), '--alt-port', String(natscopePort + 1)], /listening on/);
  });
  afterAll(async () => {
    await coturn?.stop();
    await natscope?.stop();
  });

  it('natscope classify against coturn turnserver: RFC 5780 server, no NAT, endpoint-independent', async () => {
    const run = await runNatscope(['classify', `127.0.0.1:${coturn.port}`, '--json']);
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
