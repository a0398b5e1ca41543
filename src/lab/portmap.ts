import type { LabCommand } from './topology.js';

/** The port-mapping protocols the lab router (miniupnpd) can offer. */
export type PortmapProtocol = 'upnp' | 'pmp' | 'pcp';
export const PORTMAP_PROTOCOLS: readonly PortmapProtocol[] = ['upnp', 'pmp', 'pcp'];

/** Parses "upnp,pmp,pcp" (any subset, any order); undefined names are listed in the error text. */
export function parsePortmapList(text: string): { protocols: PortmapProtocol[] } | { error: string } {
  const names = text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const unknown = names.filter((n) => !(PORTMAP_PROTOCOLS as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) return { error: `--portmap takes a list of ${PORTMAP_PROTOCOLS.join(', ')}${unknown.length > 0 ? `, not ${unknown.join(', ')}` : ''}` };
  return { protocols: PORTMAP_PROTOCOLS.filter((p) => names.includes(p)) };
}

/**
 * A WAN prefix miniupnpd will map on. miniupnpd 2.3.1 refuses (NAT-PMP result 3, UPnP "not connected") when its
 * WAN address is in its reserved list (getifaddr.c addr_is_reserved: RFC 1918, RFC 6598, all three RFC 5737
 * documentation nets including the lab's 203.0.113.0/24, 198.18.0.0/15, ...). 192.0.3.0/24 is ordinary unicast
 * space outside that list; it exists only inside the lab's namespaces, which have no route out.
 */
export const MAPPABLE_WAN = { prefixLength: 24, router: '192.0.3.11', upstream: '192.0.3.1' } as const;

/** Where the daemon's files live for one lab. */
export interface PortmapPaths {
  readonly dir: string;
  readonly config: string;
  readonly pidFile: string;
  readonly log: string;
  readonly leases: string;
}

/** The files of lab `labId`'s daemon, under `baseDir` (default /tmp). */
export function portmapPaths(labId: string, baseDir = '/tmp'): PortmapPaths {
  const dir = `${baseDir}/natscope-lab-${labId}`;
  return { dir, config: `${dir}/miniupnpd.conf`, pidFile: `${dir}/miniupnpd.pid`, log: `${dir}/miniupnpd.log`, leases: `${dir}/miniupnpd.leases` };
}

/** The nftables table miniupnpd fills (its nft_init.sh layout, with forward policy accept so the preset's rules decide). */
export const MINIUPNPD_TABLE = 'miniupnpd';

/** miniupnpd's configuration for the lab router. Pure. */
export function miniupnpdConfig(protocols: readonly PortmapProtocol[], lanPrefix: string, paths: PortmapPaths): string {
  const pmpOrPcp = protocols.includes('pmp') || protocols.includes('pcp');
  return [
    'ext_ifname=wan0',
    'listening_ip=lan0',
    'port=0',
    `enable_upnp=${protocols.includes('upnp') ? 'yes' : 'no'}`,
    // One switch serves NAT-PMP and PCP in miniupnpd; the lab drops the one not asked for (portmapFilterRules).
    `enable_natpmp=${pmpOrPcp ? 'yes' : 'no'}`,
    'secure_mode=yes',
    'system_uptime=no',
    `lease_file=${paths.leases}`,
    'uuid=6e617473-636f-7065-2d6c-61622d727472',
    'friendly_name=natscope lab router',
    'manufacturer_name=natscope lab',
    'model_name=miniupnpd',
    'model_number=2.3.1',
    // PCP's shortest lease (miniupnpd's default minimum is 120 s): --verify asks for 30 s.
    'min_lifetime=30',
    'max_lifetime=3600',
    `upnp_table_name=${MINIUPNPD_TABLE}`,
    `upnp_nat_table_name=${MINIUPNPD_TABLE}`,
    'upnp_forward_chain=miniupnpd',
    'upnp_nat_chain=prerouting_miniupnpd',
    'upnp_nat_postrouting_chain=postrouting_miniupnpd',
    `allow 1024-65535 ${lanPrefix} 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    '',
  ].join('\n');
}

/**
 * The nft chains miniupnpd adds its rules to (as its nft_init.sh makes them), and input rules that drop the
 * protocol not asked for: NAT-PMP and PCP share port 5351 and differ in the first byte, the version (RFC 6887 §9).
 */
export function portmapRuleset(protocols: readonly PortmapProtocol[]): string {
  const drops: string[] = [];
  if (!protocols.includes('pmp')) drops.push('    iifname "lan0" udp dport 5351 @th,64,8 0 drop');
  if (!protocols.includes('pcp')) drops.push('    iifname "lan0" udp dport 5351 @th,64,8 2 drop');
  return [
    `table inet ${MINIUPNPD_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    ...drops,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    '    jump miniupnpd',
    '  }',
    '  chain miniupnpd {',
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority -100; policy accept;',
    '    jump prerouting_miniupnpd',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority 100; policy accept;',
    '    jump postrouting_miniupnpd',
    '  }',
    '  chain prerouting_miniupnpd {',
    '  }',
    '  chain postrouting_miniupnpd {',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Commands that prepare `natNamespace` for miniupnpd (the daemon itself is started by the lab runner). */
export function portmapSetupCommands(natNamespace: string, protocols: readonly PortmapProtocol[]): LabCommand[] {
  return [{ argv: ['ip', 'netns', 'exec', natNamespace, 'nft', '-f', '-'], input: portmapRuleset(protocols) }];
}

/** The daemon's command line: in the foreground (-d) so its PID is the one the lab started and stops. */
export function miniupnpdArgv(natNamespace: string, paths: PortmapPaths): string[] {
  return ['ip', 'netns', 'exec', natNamespace, '/usr/sbin/miniupnpd', '-d', '-f', paths.config, '-P', paths.pidFile];
}

/** True when the daemon's log says it listens for every protocol asked for. */
export function miniupnpdReady(log: string, protocols: readonly PortmapProtocol[]): boolean {
  const upnpReady = !protocols.includes('upnp') || /HTTP listening on port \d+/.test(log);
  const pmpReady = !(protocols.includes('pmp') || protocols.includes('pcp')) || log.includes('Listening for NAT-PMP/PCP traffic');
  return upnpReady && pmpReady;
}

/** Commands that move router `natNamespace`'s WAN to a prefix miniupnpd maps on (see MAPPABLE_WAN). */
export function mappableWanCommands(natNamespace: string, publicNamespace: string, currentWan: string): LabCommand[] {
  const inNs = (ns: string, ...argv: string[]): LabCommand => ({ argv: ['ip', 'netns', 'exec', ns, ...argv] });
  return [
    inNs(natNamespace, 'ip', 'addr', 'del', `${currentWan}/24`, 'dev', 'wan0'),
    inNs(natNamespace, 'ip', 'addr', 'add', `${MAPPABLE_WAN.router}/${MAPPABLE_WAN.prefixLength}`, 'dev', 'wan0'),
    inNs(publicNamespace, 'ip', 'addr', 'add', `${MAPPABLE_WAN.upstream}/${MAPPABLE_WAN.prefixLength}`, 'dev', 'br0'),
    inNs(natNamespace, 'ip', 'route', 'add', 'default', 'via', MAPPABLE_WAN.upstream),
  ];
}
