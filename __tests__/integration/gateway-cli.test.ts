import { describe, expect, it } from '@jest/globals';
import { runNatscope } from '../helpers/processes.js';

// Only usage errors here: a real `natscope gateway` run sends to the default gateway and to SSDP multicast, which
// tests do only inside the lab's namespaces (__tests__/lab/gateway.test.ts).
describe('natscope gateway usage errors (before any packet is sent)', () => {
  it.each([
    [['gateway', '--gateway', 'router.local'], /--gateway must be an IPv4 address, not router\.local/],
    [['gateway', '--gateway', '::1'], /--gateway must be an IPv4 address/],
    [['gateway', '--expect', 'natPmp.colour=blue'], /no such field/],
    [['gateway', '--expect', 'pcp'], /is not KEY=VALUE/],
  ])('natscope %j exits 2 with a message', async (args, message) => {
    const run = await runNatscope(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('is listed in --help', async () => {
    const run = await runNatscope(['--help']);
    expect(run.stdout).toMatch(/natscope gateway\s+What your router offers/);
  });
});
