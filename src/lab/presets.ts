import type { Behaviour, Rfc3489Type } from '../diagnose/verdict.js';

/** A NAT the lab can emulate, with the verdict natscope must find for it (the ground truth). */
export interface LabPreset {
  readonly name: string;
  readonly description: string;
  readonly truth: {
    readonly nat: boolean | null;
    readonly mapping: Behaviour;
    readonly filtering: Behaviour;
    readonly rfc3489: Rfc3489Type;
    /** How the NAT allocates external ports (RFC 4787 §4.2.2), for the presets built to pin it down. */
    readonly portAllocation?: { readonly pattern: 'sequential'; readonly delta: number };
  };
  /** Ports are kept (masquerade): hairpinning can be emulated with a port-preserving DNAT. */
  readonly preservesPorts: boolean;
  /** The IP version the preset is about (the lab is dual-stack; IPv4 presets leave IPv6 routed, and the reverse). */
  readonly family: 4 | 6;
}

const preset = (
  name: string,
  description: string,
  nat: boolean | null,
  mapping: Behaviour,
  filtering: Behaviour,
  rfc3489: Rfc3489Type,
  preservesPorts: boolean,
  family: 4 | 6 = 4,
  portAllocation?: LabPreset['truth']['portAllocation'],
): LabPreset => ({ name, description, truth: { nat, mapping, filtering, rfc3489, ...(portAllocation === undefined ? {} : { portAllocation }) }, preservesPorts, family });

/** The presets, by the RFC 3489 / RFC 4787 names people look for. */
export const LAB_PRESETS: readonly LabPreset[] = [
  preset('open-internet', 'no NAT, no firewall: routed', false, 'endpoint-independent', 'endpoint-independent', 'open-internet', true),
  preset('firewall-only', 'no NAT, a stateful firewall (conntrack) drops unsolicited UDP', false, 'endpoint-independent', 'address-and-port-dependent', 'symmetric-firewall', true),
  preset('full-cone', 'masquerade + DNAT of every inbound port to the client', true, 'endpoint-independent', 'endpoint-independent', 'full-cone', true),
  preset('restricted-cone', 'masquerade + DNAT only from IPs the client sent to (a dynamic nft set)', true, 'endpoint-independent', 'address-dependent', 'restricted-cone', true),
  preset('port-restricted-cone', 'plain masquerade: conntrack filters by address and port', true, 'endpoint-independent', 'address-and-port-dependent', 'port-restricted-cone', true),
  preset('address-dependent-mapping', 'per-destination-IP snat port ranges', true, 'address-dependent', 'address-and-port-dependent', 'symmetric', false),
  preset('symmetric', 'masquerade fully-random: a new port for every destination', true, 'address-and-port-dependent', 'address-and-port-dependent', 'symmetric', false),
  preset('symmetric-sequential', 'snat to the next port of a counter (numgen inc): a new port for every destination, one above the last', true, 'address-and-port-dependent', 'address-and-port-dependent', 'symmetric', false, 4, { pattern: 'sequential', delta: 1 }),
  preset('udp-blocked', 'all UDP forwarded through the NAT is dropped', null, 'unknown', 'unknown', 'udp-blocked', true),
  preset('ipv6-firewall-only', 'IPv6, no NAT, a stateful firewall drops unsolicited UDP', false, 'endpoint-independent', 'address-and-port-dependent', 'symmetric-firewall', true, 6),
  preset('ipv6-nat66', 'IPv6 NAT66: ip6 masquerade', true, 'endpoint-independent', 'address-and-port-dependent', 'port-restricted-cone', true, 6),
];

/** Finds a preset by name. */
export function findPreset(name: string): LabPreset | undefined {
  return LAB_PRESETS.find((p) => p.name === name);
}
