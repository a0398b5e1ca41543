import type { LabCommand } from './topology.js';

/** The carrier-grade NAT above router 1: its inside is RFC 6598 shared address space. */
export const CARRIER_NAT = {
  /** The CGN's inside address, the router's upstream. */
  inside: '100.64.0.1',
  /** Router 1's WAN address, handed out by the "carrier". */
  routerWan: '100.64.0.2',
  insidePrefix: '100.64.0.0/10',
} as const;

/** The carrier NAT's namespace name for lab `labId`. */
export const carrierNamespace = (labId: string): string => `${labId}-cgn`;

/**
 * Commands that put a carrier-grade NAT between router 1 and the public side: router 1's WAN moves into
 * 100.64.0.0/10 and the CGN takes router 1's old public address on the bridge, masquerading the shared space.
 * IPv4 only (router 1 loses its IPv6 WAN). Pure.
 */
export function carrierNatCommands(labId: string, names: { readonly publicNs: string; readonly natNs: string; readonly publicWan: string; readonly bridgePort: string }): LabCommand[] {
  const cgn = carrierNamespace(labId);
  const inNs = (ns: string, ...argv: string[]): LabCommand => ({ argv: ['ip', 'netns', 'exec', ns, ...argv] });
  const ruleset = [
    'table ip natscope_cgn {',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    oifname "wan0" ip saddr ${CARRIER_NAT.insidePrefix} masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
  return [
    { argv: ['ip', 'netns', 'add', cgn] },
    inNs(cgn, 'ip', 'link', 'set', 'lo', 'up'),
    // Unplug router 1 from the bridge (deleting one end of the veth removes both).
    inNs(names.publicNs, 'ip', 'link', 'del', names.bridgePort),
    { argv: ['ip', 'link', 'add', `${labId}cr`, 'netns', names.natNs, 'type', 'veth', 'peer', 'name', `${labId}ci`, 'netns', cgn] },
    inNs(names.natNs, 'ip', 'link', 'set', `${labId}cr`, 'name', 'wan0'),
    inNs(names.natNs, 'ip', 'addr', 'add', `${CARRIER_NAT.routerWan}/10`, 'dev', 'wan0'),
    inNs(names.natNs, 'ip', 'link', 'set', 'wan0', 'up'),
    inNs(names.natNs, 'ip', 'route', 'add', 'default', 'via', CARRIER_NAT.inside),
    inNs(cgn, 'ip', 'link', 'set', `${labId}ci`, 'name', 'lan0'),
    inNs(cgn, 'ip', 'addr', 'add', `${CARRIER_NAT.inside}/10`, 'dev', 'lan0'),
    inNs(cgn, 'ip', 'link', 'set', 'lan0', 'up'),
    { argv: ['ip', 'link', 'add', `${labId}cw`, 'netns', cgn, 'type', 'veth', 'peer', 'name', names.bridgePort, 'netns', names.publicNs] },
    inNs(names.publicNs, 'ip', 'link', 'set', names.bridgePort, 'master', 'br0', 'up'),
    inNs(cgn, 'ip', 'link', 'set', `${labId}cw`, 'name', 'wan0'),
    inNs(cgn, 'ip', 'addr', 'add', `${names.publicWan}/24`, 'dev', 'wan0'),
    inNs(cgn, 'ip', 'link', 'set', 'wan0', 'up'),
    inNs(cgn, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'),
    inNs(cgn, 'sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0'), // as the lab's other routers (topology.ts)
    { argv: ['ip', 'netns', 'exec', cgn, 'nft', '-f', '-'], input: ruleset },
  ];
}
