import { isIP } from 'node:net';
import { gateway, type GatewayReport } from './gateway.js';

/** What classify adds when it also asks the router (natscope classify without --no-gateway). */
export interface ClassifyGatewaySection {
  /** The router's port-mapping protocols and the double-NAT verdict; null when not asked. */
  readonly gateway: GatewayReport | null;
  /** Another NAT above the router: true/false, null when nothing could tell or the router was not asked. */
  readonly doubleNat: boolean | null;
}

const isLoopback = (address: string): boolean => address === '::1' || address.startsWith('127.');

/**
 * Asks the router beside a classification: the STUN mapped address is the evidence the router's external address
 * is compared with (a second NAT when they differ). A loopback server is reached without any router, so the
 * router is not asked then. Never throws: a failed gateway probe is a null section.
 */
export async function classifyGatewaySection(classified: { readonly server: string | null; readonly mappedAddress: string | null }): Promise<ClassifyGatewaySection> {
  const serverIp = classified.server === null ? undefined : classified.server.replace(/^\[?([^\]]*?)\]?:\d+$/, '$1');
  if (serverIp === undefined || isIP(serverIp) !== 4 || isLoopback(serverIp)) return { gateway: null, doubleNat: null };
  const mappedIp = classified.mappedAddress === null ? undefined : classified.mappedAddress.replace(/^\[?([^\]]*?)\]?:\d+$/, '$1');
  try {
    const report = await gateway({
      traceHost: serverIp,
      ...(mappedIp === undefined ? {} : { publicMappedAddress: { address: mappedIp, source: `the STUN server ${classified.server} saw it` } }),
    });
    return { gateway: report, doubleNat: report.doubleNat };
  } catch {
    return { gateway: null, doubleNat: null };
  }
}
