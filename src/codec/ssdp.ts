/** SSDP (UPnP Device Architecture 1.1 §1.3) search requests and responses, as bytes. Pure. */

export const SSDP_MULTICAST_ADDRESS = '239.255.255.250';
export const SSDP_PORT = 1900;
/** The search target of a home router. */
export const IGD_SEARCH_TARGET = 'urn:schemas-upnp-org:device:InternetGatewayDevice:1';
/** SSDP responses are one datagram; anything larger is not one. */
export const SSDP_MAX_RESPONSE_BYTES = 8192;

/** An M-SEARCH request (UDA 1.1 §1.3.2); MX is the seconds a device may wait before answering. */
export function encodeSsdpSearch(searchTarget: string = IGD_SEARCH_TARGET, mxSeconds = 1, host = `${SSDP_MULTICAST_ADDRESS}:${SSDP_PORT}`): Uint8Array {
  const text = ['M-SEARCH * HTTP/1.1', `HOST: ${host}`, 'MAN: "ssdp:discover"', `MX: ${mxSeconds}`, `ST: ${searchTarget}`, '', ''].join('\r\n');
  return new TextEncoder().encode(text);
}

/** What a search response says. */
export interface SsdpResponse {
  readonly location: string;
  readonly searchTarget: string;
  readonly server: string | undefined;
  readonly usn: string | undefined;
}

/** Decodes a search response; undefined for anything that is not a 200 response with a LOCATION header. */
export function decodeSsdpResponse(bytes: Uint8Array): SsdpResponse | undefined {
  if (bytes.length > SSDP_MAX_RESPONSE_BYTES) return undefined;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const lines = text.split(/\r?\n/);
  if (!/^HTTP\/1\.[01] 200\b/i.test(lines[0] ?? '')) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const location = headers.get('location');
  if (location === undefined || !/^http:\/\//i.test(location)) return undefined;
  return { location, searchTarget: headers.get('st') ?? '', server: headers.get('server'), usn: headers.get('usn') };
}
