import type { LabPreset } from './presets.js';
import type { PortmapProtocol } from './portmap.js';

/**
 * The lab's name prefix: namespaces and veth names start with it. NATSCOPE_LAB_ID (2-4 letters) lets two labs
 * live side by side on one machine (parallel test runs); the default is "nsc".
 */
export const LAB_ID = /^[a-z]{2,4}$/.test(process.env.NATSCOPE_LAB_ID ?? '') ? (process.env.NATSCOPE_LAB_ID as string) : 'nsc';

/** Names and addresses of the lab: documentation prefixes (RFC 5737) that exist only inside its namespaces. */
export const LAB = {
  public: `${LAB_ID}-pub`,
  nat: [`${LAB_ID}-nat1`, `${LAB_ID}-nat2`] as const,
  client: [`${LAB_ID}-client1`, `${LAB_ID}-client2`] as const,
  serverAddresses: ['203.0.113.1', '203.0.113.2'] as const,
  natWan: ['203.0.113.11', '203.0.113.12'] as const,
  natLan: ['192.0.2.1', '198.51.100.1'] as const,
  clientAddress: ['192.0.2.10', '198.51.100.10'] as const,
  lanPrefix: ['192.0.2.0/24', '198.51.100.0/24'] as const,
  // IPv6: the RFC 3849 documentation prefix, also only inside the namespaces.
  serverAddresses6: ['2001:db8:1::1', '2001:db8:1::2'] as const,
  natWan6: ['2001:db8:1::11', '2001:db8:1::12'] as const,
  natLan6: ['2001:db8:2::1', '2001:db8:3::1'] as const,
  clientAddress6: ['2001:db8:2::10', '2001:db8:3::10'] as const,
  lanPrefix6: ['2001:db8:2::/64', '2001:db8:3::/64'] as const,
} as const;

/** Options of `lab up`. */
export interface LabOptions {
  /** The NAT in front of client1 (nat1). */
  readonly preset: LabPreset;
  /** The NAT in front of client2 (nat2); default: the same as `preset`. */
  readonly peerPreset?: LabPreset;
  /** nf_conntrack_udp_timeout in the NATs (a hole after one exchange), seconds. */
  readonly udpTimeoutSeconds?: number;
  /** nf_conntrack_udp_timeout_stream (a hole after two-way traffic), seconds. */
  readonly udpStreamTimeoutSeconds?: number;
  /** Percentage of packets crossing a NAT that are dropped, each way. */
  readonly lossPercent?: number;
  readonly hairpin?: boolean;
  /** Run miniupnpd on NAT 1 offering these protocols (src/lab/portmap.ts). */
  readonly portmap?: readonly PortmapProtocol[];
  /** Put a carrier-grade NAT (100.64.0.0/10 inside) above NAT 1 (src/lab/double-nat.ts). */
  readonly carrierNat?: boolean;
}

/** A command to run: argv, and whether its failure is fine (teardown of what may not exist). */
export interface LabCommand {
  readonly argv: readonly string[];
  readonly input?: string;
  readonly mayFail?: boolean;
}

const inNs = (ns: string, ...argv: string[]): string[] => ['ip', 'netns', 'exec', ns, ...argv];

/** Commands that remove every lab namespace (and so every veth, rule and conntrack entry in them). */
export function teardownCommands(): LabCommand[] {
  return [LAB.public, ...LAB.nat, ...LAB.client, `${LAB_ID}-cgn`].map((ns) => ({ argv: ['ip', 'netns', 'del', ns], mayFail: true }));
}

/** Commands that build the lab: public host with two addresses, two NATs, a client behind each. Pure. */
export function setupCommands(options: LabOptions): LabCommand[] {
  const commands: LabCommand[] = [];
  const run = (...argv: string[]): void => {
    commands.push({ argv });
  };
  for (const ns of [LAB.public, ...LAB.nat, ...LAB.client]) {
    run('ip', 'netns', 'add', ns);
    run(...inNs(ns, 'ip', 'link', 'set', 'lo', 'up'));
  }
  // ICMP errors without Linux's per-destination rate limit (1 per second after a burst of 6), in the namespaces that
  // send them (servers: port unreachable; NATs: time exceeded). Test after test from one client would otherwise get
  // rate-limited answers, and every route trace or "nothing listens there" check would wait out its timeout.
  for (const ns of [LAB.public, ...LAB.nat]) {
    run(...inNs(ns, 'sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0'));
    run(...inNs(ns, 'sysctl', '-qw', 'net.ipv6.icmp.ratelimit=0'));
  }
  // The public side: a bridge holding both server addresses, the NATs' WAN ports plugged into it.
  run(...inNs(LAB.public, 'ip', 'link', 'add', 'br0', 'type', 'bridge'));
  run(...inNs(LAB.public, 'ip', 'addr', 'add', `${LAB.serverAddresses[0]}/24`, 'dev', 'br0'));
  run(...inNs(LAB.public, 'ip', 'addr', 'add', `${LAB.serverAddresses[1]}/24`, 'dev', 'br0'));
  // nodad: the addresses are usable at once (duplicate address detection would hold them back a second or two).
  run(...inNs(LAB.public, 'ip', '-6', 'addr', 'add', `${LAB.serverAddresses6[0]}/64`, 'dev', 'br0', 'nodad'));
  run(...inNs(LAB.public, 'ip', '-6', 'addr', 'add', `${LAB.serverAddresses6[1]}/64`, 'dev', 'br0', 'nodad'));
  run(...inNs(LAB.public, 'ip', 'link', 'set', 'br0', 'up'));
  for (const i of [0, 1] as const) {
    const nat = LAB.nat[i];
    const client = LAB.client[i];
    run('ip', 'link', 'add', `${LAB_ID}w${i}`, 'netns', nat, 'type', 'veth', 'peer', 'name', `${LAB_ID}p${i}`, 'netns', LAB.public);
    run(...inNs(LAB.public, 'ip', 'link', 'set', `${LAB_ID}p${i}`, 'master', 'br0', 'up'));
    run(...inNs(nat, 'ip', 'link', 'set', `${LAB_ID}w${i}`, 'name', 'wan0'));
    run(...inNs(nat, 'ip', 'addr', 'add', `${LAB.natWan[i]}/24`, 'dev', 'wan0'));
    run(...inNs(nat, 'ip', '-6', 'addr', 'add', `${LAB.natWan6[i]}/64`, 'dev', 'wan0', 'nodad'));
    run(...inNs(nat, 'ip', 'link', 'set', 'wan0', 'up'));
    run('ip', 'link', 'add', `${LAB_ID}l${i}`, 'netns', nat, 'type', 'veth', 'peer', 'name', `${LAB_ID}c${i}`, 'netns', client);
    run(...inNs(nat, 'ip', 'link', 'set', `${LAB_ID}l${i}`, 'name', 'lan0'));
    run(...inNs(nat, 'ip', 'addr', 'add', `${LAB.natLan[i]}/24`, 'dev', 'lan0'));
    run(...inNs(nat, 'ip', '-6', 'addr', 'add', `${LAB.natLan6[i]}/64`, 'dev', 'lan0', 'nodad'));
    run(...inNs(nat, 'ip', 'link', 'set', 'lan0', 'up'));
    run(...inNs(client, 'ip', 'link', 'set', `${LAB_ID}c${i}`, 'name', 'eth0'));
    run(...inNs(client, 'ip', 'addr', 'add', `${LAB.clientAddress[i]}/24`, 'dev', 'eth0'));
    run(...inNs(client, 'ip', 'link', 'set', 'eth0', 'up'));
    run(...inNs(client, 'ip', '-6', 'addr', 'add', `${LAB.clientAddress6[i]}/64`, 'dev', 'eth0', 'nodad'));
    run(...inNs(client, 'ip', 'route', 'add', 'default', 'via', LAB.natLan[i]));
    run(...inNs(client, 'ip', '-6', 'route', 'add', 'default', 'via', LAB.natLan6[i]));
    // The public host routes both inside prefixes (servers answer a routed client; a NAT'd client never shows them its own).
    run(...inNs(LAB.public, 'ip', 'route', 'add', LAB.lanPrefix[i], 'via', LAB.natWan[i]));
    run(...inNs(LAB.public, 'ip', '-6', 'route', 'add', LAB.lanPrefix6[i], 'via', LAB.natWan6[i]));
    run(...inNs(nat, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'));
    run(...inNs(nat, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'));
    commands.push({ argv: inNs(nat, 'nft', '-f', '-'), input: natRuleset(options, i) });
    // Conntrack timeouts are per network namespace (RFC 4787 REQ-5 asks for at least 2 minutes; Linux uses 30 s/120 s).
    run(...inNs(nat, 'sysctl', '-qw', `net.netfilter.nf_conntrack_udp_timeout=${options.udpTimeoutSeconds ?? 30}`));
    run(...inNs(nat, 'sysctl', '-qw', `net.netfilter.nf_conntrack_udp_timeout_stream=${options.udpStreamTimeoutSeconds ?? 120}`));
  }
  // Peer to peer: a NAT reaches the other client's own address only where the other side is routed (no NAT in that
  // IP version), as on the internet, where private addresses behind a NAT are not routed.
  for (const i of [0, 1] as const) {
    const other = i === 0 ? 1 : 0;
    if (isRouted(presetOfNat(options, other), 4)) run(...inNs(LAB.nat[i], 'ip', 'route', 'add', LAB.lanPrefix[other], 'via', LAB.natWan[other]));
    if (isRouted(presetOfNat(options, other), 6)) run(...inNs(LAB.nat[i], 'ip', '-6', 'route', 'add', LAB.lanPrefix6[other], 'via', LAB.natWan6[other]));
  }
  return commands;
}

/** True when a preset leaves IP version `family` routed: no NAT in it (the other version is always routed). */
export function isRouted(preset: LabPreset, family: 4 | 6): boolean {
  return preset.family !== family || preset.truth.nat === false;
}

/** The preset of NAT `i`: nat1 takes `preset`, nat2 takes `peerPreset` when given. */
export function presetOfNat(options: LabOptions, i: 0 | 1): LabPreset {
  return i === 1 ? (options.peerPreset ?? options.preset) : options.preset;
}

/** The sequential presets' counter: the first port it hands out, and how many mappings it makes before it wraps. */
export const SEQUENTIAL_PORTS = { first: 20000, count: 4096 } as const;

/**
 * The port of a sequential snat: a counter (numgen inc) looked up in a map of ports `stride` apart. A map because
 * a bare `snat to IP:numgen ...` puts the counter in host byte order where the kernel reads the port in network
 * byte order (on x86 consecutive counts come out 256 apart, and jump back every 256); the map's values are ports.
 */
export function sequentialPortExpression(stride: number, first: number = SEQUENTIAL_PORTS.first, count: number = SEQUENTIAL_PORTS.count): string {
  const last = first + stride * (count - 1);
  if (!Number.isInteger(stride) || stride < 1 || first < 1024 || last > 65535) {
    throw new RangeError(`a sequential snat of ${count} ports ${stride} apart from ${first} leaves 1024-65535 (last port ${last})`);
  }
  const entries = Array.from({ length: count }, (_, k) => `${k} : ${first + stride * k}`);
  return `numgen inc mod ${count} map { ${entries.join(', ')} }`;
}

/**
 * The NAT's own WAN firewall, as on a home router: UDP that reaches the NAT itself (no mapping, no DNAT) is dropped in
 * the input hook. Conntrack confirms an entry only for a packet that survives the input hook, so a peer's early
 * punch leaves no entry behind; without this, that entry (peer → NAT port) would hold the port, and the client's own
 * packet to the peer a moment later would be given another one (a simultaneous open would never meet).
 */
const INPUT_CHAIN = ['  chain input {', '    type filter hook input priority filter; policy accept;', '    iifname "wan0" meta l4proto udp drop', '  }'];

/** The nftables ruleset of NAT `i` for its preset (RFC 4787 behaviours built from netfilter). Pure. */
export function natRuleset(options: LabOptions, i: 0 | 1): string {
  return presetOfNat(options, i).family === 6 ? nat66Ruleset(options, i) : nat44Ruleset(options, i);
}

/** IPv6 presets: the same building blocks in an ip6 table; IPv4 is left routed. */
function nat66Ruleset(options: LabOptions, i: 0 | 1): string {
  const preset = presetOfNat(options, i);
  const loss = options.lossPercent ?? 0;
  const lines = ['table ip6 natscope6 {', '  chain forward {', '    type filter hook forward priority filter; policy accept;'];
  if (loss > 0) lines.push(`    numgen random mod 100 < ${loss} drop`);
  if (preset.name === 'ipv6-firewall-only') {
    lines.push('    iifname "wan0" ct state established,related accept', '    iifname "wan0" meta l4proto udp drop');
  }
  lines.push('  }', ...INPUT_CHAIN, '  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
  if (preset.name === 'ipv6-nat66') lines.push(`    oifname "wan0" ip6 saddr ${LAB.lanPrefix6[i]} masquerade`);
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

function nat44Ruleset(options: LabOptions, i: 0 | 1): string {
  const preset = presetOfNat(options, i);
  const wan = LAB.natWan[i];
  const lanPrefix = LAB.lanPrefix[i];
  const client = LAB.clientAddress[i];
  const loss = options.lossPercent ?? 0;
  const lines: string[] = ['table ip natscope {'];
  lines.push('  set contacted { type ipv4_addr . inet_service; flags dynamic, timeout; timeout 5m; }');
  lines.push('  chain forward {', '    type filter hook forward priority filter; policy accept;');
  // Loss: numgen random drop rules (no netem here), in both directions.
  if (loss > 0) lines.push(`    numgen random mod 100 < ${loss} drop`);
  if (preset.name === 'udp-blocked') lines.push('    meta l4proto udp drop');
  if (preset.name === 'firewall-only') {
    lines.push('    iifname "wan0" ct state established,related accept', '    iifname "wan0" meta l4proto udp drop');
  }
  if (preset.name === 'restricted-cone') {
    // Remember (destination IP, client port) pairs: replies from any port of those IPs may enter.
    lines.push(`    iifname "lan0" meta l4proto udp update @contacted { ip daddr . udp sport }`);
  }
  lines.push('  }');
  lines.push(...INPUT_CHAIN);

  // Unsolicited UDP to the NAT's own address is dropped before conntrack confirms it, as home routers' input
  // firewalls do: otherwise a peer's first punch packet that arrives before ours leaves makes a conntrack entry
  // for the NAT itself, our packet to that peer then clashes with it and gets another port, and no simultaneous
  // open can work in a lab whose links have no latency.
  lines.push('  chain input {', '    type filter hook input priority filter; policy accept;', '    iifname "wan0" meta l4proto udp ct state new drop', '  }');

  lines.push('  chain prerouting {', '    type nat hook prerouting priority dstnat; policy accept;');
  const dnatAll = `udp dport 1024-65535 dnat to ${client}`;
  if (preset.name === 'full-cone') lines.push(`    iifname "wan0" ip daddr ${wan} ${dnatAll}`);
  if (preset.name === 'restricted-cone') lines.push(`    iifname "wan0" ip daddr ${wan} ip saddr . udp dport @contacted ${dnatAll}`);
  if (options.hairpin === true) lines.push(`    iifname "lan0" ip daddr ${wan} ${dnatAll}`);
  lines.push('  }');

  lines.push('  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
  if (options.hairpin === true) lines.push(`    iifname "lan0" oifname "lan0" ip saddr ${lanPrefix} ct status dnat snat to ${wan}`);
  switch (preset.name) {
    case 'full-cone':
    case 'restricted-cone':
    case 'port-restricted-cone':
      lines.push(`    oifname "wan0" ip saddr ${lanPrefix} masquerade`);
      break;
    case 'address-dependent-mapping':
      lines.push(`    oifname "wan0" ip saddr ${lanPrefix} ip daddr ${LAB.serverAddresses[0]} meta l4proto udp snat to ${wan}:20000-29999`);
      lines.push(`    oifname "wan0" ip saddr ${lanPrefix} ip daddr ${LAB.serverAddresses[1]} meta l4proto udp snat to ${wan}:30000-39999`);
      lines.push(`    oifname "wan0" ip saddr ${lanPrefix} meta l4proto udp snat to ${wan}:40000-49999`);
      break;
    case 'symmetric':
      lines.push(`    oifname "wan0" ip saddr ${lanPrefix} masquerade fully-random`);
      break;
    case 'symmetric-sequential':
      // Every new flow (a new 5-tuple: RFC 4787 §4.1 address-and-port-dependent mapping) takes the counter's next
      // port (§4.2.2: sequential allocation, stride 1), whatever the source port; other protocols are masqueraded.
      lines.push(`    oifname "wan0" ip saddr ${lanPrefix} meta l4proto udp snat to ${wan} : ${sequentialPortExpression(preset.truth.portAllocation?.delta ?? 1)}`);
      lines.push(`    oifname "wan0" ip saddr ${lanPrefix} masquerade`);
      break;
    case 'udp-blocked':
      lines.push(`    oifname "wan0" ip saddr ${lanPrefix} masquerade`);
      break;
    default:
      break; // open-internet and firewall-only are routed
  }
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}
