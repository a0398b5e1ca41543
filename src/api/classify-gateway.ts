import { isIP } from 'node:net';
import type { TransportAddress } from '../codec/transport-address.js';
import { gateway, type GatewayReport, type PublicMappedAddress } from './gateway.js';

/** What classify adds when it also asks the router (natscope classify without --no-gateway). */
export interface ClassifyGatewaySection {
  /** The router's port-mapping protocols and the double-NAT verdict; null when not asked. */
  readonly gateway: GatewayReport | null;
  /** Another NAT above the router: true/false, null when nothing could tell or the router was not asked. */
  readonly doubleNat: boolean | null;
}

/** What the classification found, once it has: the server that answered and the address it saw. */
export interface ClassifiedAddress {
  readonly server: string | null;
  readonly mappedAddress: string | null;
}

const isLoopback = (address: string): boolean => address === '::1' || address.startsWith('127.');
const ipOf = (text: string): string => text.replace(/^\[?([^\]]*?)\]?:\d+$/, '$1');

/**
 * Asks the router beside a classification, while the STUN tests run: the STUN mapped address, when it comes, is the
 * evidence the router's external address is compared with (a second NAT when they differ). Servers on loopback are
 * reached without any router, so the router is not asked then. Never throws: a failed gateway probe is a null section.
 */
export async function classifyGatewaySection(servers: readonly TransportAddress[], classified: Promise<ClassifiedAddress | undefined>): Promise<ClassifyGatewaySection> {
  // The first routers on the way to any of the servers tell of a carrier-grade NAT; the first IPv4 one will do,
  // traced once the STUN tests are over (its probes would take NAT mappings in the middle of them).
  const traceTarget = servers.find((s) => isIP(s.address) === 4 && !isLoopback(s.address));
  if (traceTarget === undefined) return { gateway: null, doubleNat: null };
  const publicMappedAddress = classified.then((c): PublicMappedAddress | undefined =>
    c === undefined || c.mappedAddress === null ? undefined : { address: ipOf(c.mappedAddress), source: `the STUN server ${c.server ?? '?'} saw it` },
  );
  try {
    const report = await gateway({ traceHost: traceTarget.address, traceAfter: classified, publicMappedAddress });
    return { gateway: report, doubleNat: report.doubleNat };
  } catch {
    return { gateway: null, doubleNat: null };
  }
}
