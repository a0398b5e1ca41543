import { isIP } from 'node:net';
import { sameIp } from '../codec/transport-address.js';

/** What kind of IPv4 address a router reports as its external one. */
export type AddressKind = 'public' | 'carrier-grade' | 'private' | 'reserved';

const v4 = (address: string): number | undefined => {
  if (isIP(address) !== 4) return undefined;
  return address.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
};
const inPrefix = (value: number, base: string, bits: number): boolean => {
  const start = v4(base) ?? 0;
  const size = 2 ** (32 - bits);
  return value >= start && value < start + size;
};

/** Private use (RFC 1918), loopback and link-local: addresses of a network behind a NAT. */
const PRIVATE_PREFIXES: ReadonlyArray<readonly [string, number]> = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
];
/** Special-purpose blocks no router should hold as a public address (the list miniupnpd and miniupnpc check). */
const RESERVED_PREFIXES: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.31.196.0', 24],
  ['192.52.193.0', 24],
  ['192.88.99.0', 24],
  ['192.175.48.0', 24],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

/** Classifies an IPv4 address: RFC 6598 shared space (carrier-grade NAT), RFC 1918 private, other reserved, or public. */
export function classifyExternalAddress(address: string): AddressKind {
  const value = v4(address);
  if (value === undefined) return 'public'; // IPv6 external addresses are global here
  if (inPrefix(value, '100.64.0.0', 10)) return 'carrier-grade';
  if (PRIVATE_PREFIXES.some(([base, bits]) => inPrefix(value, base, bits))) return 'private';
  if (RESERVED_PREFIXES.some(([base, bits]) => inPrefix(value, base, bits))) return 'reserved';
  return 'public';
}

/** The evidence the double-NAT decision reads. */
export interface DoubleNatEvidence {
  /** External addresses the router reported, by protocol. */
  readonly routerExternalAddresses: ReadonlyArray<{ readonly protocol: 'upnp' | 'natPmp' | 'pcp'; readonly address: string }>;
  /** The address the internet sees (a STUN mapped address, or the echo server's observed address), when known. */
  readonly publicMappedAddress?: { readonly address: string; readonly source: string } | undefined;
  /** A PCP server answered ADDRESS_MISMATCH (RFC 6887 §8.3, §11.4): a NAT between this host and it. */
  readonly pcpAddressMismatch?: boolean;
  /** A protocol answered but said the router has no usable public address (NAT-PMP result 3, UPnP empty address). */
  readonly routerRefusal?: string | undefined;
  /** The router's own LAN address, and the routers on the way out (tracepath), when traced. */
  readonly gateway?: string | undefined;
  readonly hops?: ReadonlyArray<{ readonly hop: number; readonly address: string }>;
}

/** The verdict: true/false/null with the reasons, in words. */
export interface DoubleNatVerdict {
  readonly doubleNat: boolean | null;
  readonly carrierNat: boolean | null;
  readonly reasons: readonly string[];
}

/**
 * Decides whether another NAT sits above the home router (double NAT), and whether it is the carrier's
 * (RFC 6598 100.64.0.0/10). Unknown (null) when nothing could tell. Pure.
 */
export function decideDoubleNat(evidence: DoubleNatEvidence): DoubleNatVerdict {
  const reasons: string[] = [];
  let doubleNat: boolean | null = null;
  let carrierNat: boolean | null = null;
  const routerAddress = evidence.routerExternalAddresses[0];
  if (routerAddress !== undefined) {
    const kind = classifyExternalAddress(routerAddress.address);
    const said = `the router's external address (${routerAddress.protocol}) is ${routerAddress.address}`;
    if (kind === 'carrier-grade') {
      doubleNat = true;
      carrierNat = true;
      reasons.push(`${said}, in the carrier-grade NAT range 100.64.0.0/10 (RFC 6598): your provider's NAT sits above the router`);
    } else if (kind === 'private') {
      doubleNat = true;
      reasons.push(`${said}, a private address (RFC 1918): another NAT sits above the router`);
    } else if (kind === 'reserved') {
      reasons.push(`${said}, in a reserved (special-purpose) range: not routable on the internet as it is`);
    } else {
      reasons.push(`${said}, a public address`);
    }
    const mapped = evidence.publicMappedAddress;
    if (mapped !== undefined) {
      if (sameIp(mapped.address, routerAddress.address)) {
        if (doubleNat === null) doubleNat = false;
        if (carrierNat === null) carrierNat = false;
        reasons.push(`the internet sees you as ${mapped.address} (${mapped.source}), the router's own external address: no second NAT`);
      } else {
        doubleNat = true;
        reasons.push(`the internet sees you as ${mapped.address} (${mapped.source}), not as the router's ${routerAddress.address}: another NAT sits above the router`);
        if (carrierNat === null && classifyExternalAddress(routerAddress.address) !== 'carrier-grade') carrierNat = null;
      }
    } else if (kind === 'public') {
      doubleNat = false;
      carrierNat = false;
    }
  }
  if (evidence.routerRefusal !== undefined && routerAddress === undefined) {
    // The first router after the gateway: its address says whose network the router's WAN is in.
    const upstream = (evidence.hops ?? []).find((h) => evidence.gateway === undefined || !sameIp(h.address, evidence.gateway));
    reasons.push(`the router reports no usable public address (${evidence.routerRefusal}): it says so when its own WAN address is private or reserved`);
    if (upstream !== undefined && classifyExternalAddress(upstream.address) === 'carrier-grade') {
      doubleNat = true;
      carrierNat = true;
      reasons.push(`the next router after yours (hop ${upstream.hop}) is ${upstream.address}, in the carrier-grade NAT range 100.64.0.0/10 (RFC 6598): your router sits behind your provider's NAT`);
    } else if (upstream !== undefined && classifyExternalAddress(upstream.address) === 'private') {
      doubleNat = true;
      reasons.push(`the next router after yours (hop ${upstream.hop}) is ${upstream.address}, a private address: your router sits behind another NAT`);
    }
  }
  if (evidence.pcpAddressMismatch === true) {
    doubleNat = true;
    reasons.push('the PCP server answered ADDRESS_MISMATCH (RFC 6887 §11.4): it saw this host from another address, so a NAT lies between them');
  }
  if (doubleNat === null && routerAddress === undefined) {
    reasons.push('no router reported an external address, so double NAT cannot be told');
  }
  return { doubleNat, carrierNat, reasons };
}
