import { readFile } from 'node:fs/promises';

/** The IPv4 default route: the gateway's address and the interface it is on. */
export interface DefaultRoute {
  readonly gateway: string;
  readonly interfaceName: string;
}

/**
 * Reads the default IPv4 route from Linux's /proc/net/route text: the destination-0 route with the lowest
 * metric whose gateway flag (RTF_GATEWAY, 0x2) is set. Addresses there are little-endian hex. Pure.
 */
export function parseProcNetRoute(text: string): DefaultRoute | undefined {
  const RTF_UP = 0x1;
  const RTF_GATEWAY = 0x2;
  let best: (DefaultRoute & { metric: number }) | undefined;
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const [interfaceName = '', destination = '', gatewayHex = '', flagsHex = '', , , metricText = '', maskHex = ''] = fields;
    const flags = Number.parseInt(flagsHex, 16);
    if (destination !== '00000000' || maskHex !== '00000000' || (flags & RTF_UP) === 0 || (flags & RTF_GATEWAY) === 0) continue;
    if (!/^[0-9A-Fa-f]{8}$/.test(gatewayHex)) continue;
    const value = Number.parseInt(gatewayHex, 16);
    const gateway = [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff].join('.');
    const metric = Number.parseInt(metricText, 10) || 0;
    if (best === undefined || metric < best.metric) best = { gateway, interfaceName, metric };
  }
  return best === undefined ? undefined : { gateway: best.gateway, interfaceName: best.interfaceName };
}

/** The system's IPv4 default gateway (Linux: /proc/net/route); undefined where it cannot be read. */
export async function findDefaultGateway(path = '/proc/net/route'): Promise<DefaultRoute | undefined> {
  try {
    return parseProcNetRoute(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}
