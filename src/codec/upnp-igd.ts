/**
 * UPnP Internet Gateway Device: the bits of the device description and SOAP that natscope needs, read with
 * small bounded text scans (no general XML parser: no entity expansion, no DTDs, nothing that grows with input).
 */

/** The WAN connection services that hold port mappings (IGD 1 and 2). */
export const WAN_CONNECTION_SERVICES = [
  'urn:schemas-upnp-org:service:WANIPConnection:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANPPPConnection:1',
] as const;

/** What natscope reads from a device description. */
export interface IgdDescription {
  readonly friendlyName: string | undefined;
  readonly manufacturer: string | undefined;
  readonly modelName: string | undefined;
  readonly modelNumber: string | undefined;
  /** The WAN connection service to talk to, with its control URL made absolute. */
  readonly wanService: { readonly serviceType: string; readonly controlUrl: string } | undefined;
}

const XML_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Replaces the five predefined XML entities and numeric references; leaves anything else as it is. */
function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,4});/gi, (whole, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X')) return safeCodePoint(parseInt(name.slice(2), 16), whole);
    if (name.startsWith('#')) return safeCodePoint(parseInt(name.slice(1), 10), whole);
    return XML_ENTITIES[name] ?? whole;
  });
}

function safeCodePoint(code: number, fallback: string): string {
  return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : fallback;
}

/** The text of the first element named `name` (any namespace prefix), trimmed and unescaped; at most 256 characters. */
export function firstElementText(xml: string, name: string): string | undefined {
  const pattern = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}(?:\\s[^>]*)?>([^<]{0,4096})</(?:[A-Za-z_][\\w.-]*:)?${name}\\s*>`);
  const match = pattern.exec(xml);
  if (match?.[1] === undefined) return undefined;
  return unescapeXml(match[1].trim()).slice(0, 256);
}

/** Reads a device description; `baseUrl` is where it was fetched from (relative control URLs resolve against it). */
export function parseIgdDescription(xml: string, baseUrl: string): IgdDescription {
  const services: Array<{ serviceType: string; controlUrl: string }> = [];
  const serviceBlocks = xml.match(/<service\b[^>]*>[\s\S]{0,4096}?<\/service\s*>/g) ?? [];
  for (const block of serviceBlocks.slice(0, 64)) {
    const serviceType = firstElementText(block, 'serviceType');
    const controlUrl = firstElementText(block, 'controlURL');
    if (serviceType === undefined || controlUrl === undefined) continue;
    const base = firstElementText(xml, 'URLBase') ?? baseUrl;
    let absolute: string;
    try {
      absolute = new URL(controlUrl, base).toString();
    } catch {
      continue;
    }
    services.push({ serviceType, controlUrl: absolute });
  }
  const wanService = WAN_CONNECTION_SERVICES.map((type) => services.find((s) => s.serviceType === type)).find((s) => s !== undefined);
  // The root device's fields come first in the document; embedded devices repeat them later.
  return {
    friendlyName: firstElementText(xml, 'friendlyName'),
    manufacturer: firstElementText(xml, 'manufacturer'),
    modelName: firstElementText(xml, 'modelName'),
    modelNumber: firstElementText(xml, 'modelNumber'),
    wanService,
  };
}

/** A SOAP action call: the body and the SOAPAction header (UDA 1.1 §3.2.1). */
export function encodeSoapAction(serviceType: string, action: string, args: ReadonlyArray<readonly [string, string | number]> = []): { body: string; soapAction: string } {
  const escape = (value: string | number): string => String(value).replace(/[<>&"']/g, (c) => `&${({ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' } as Record<string, string>)[c]};`);
  const argXml = args.map(([name, value]) => `<${name}>${escape(value)}</${name}>`).join('');
  const body =
    '<?xml version="1.0"?>\r\n' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${serviceType}">${argXml}</u:${action}></s:Body></s:Envelope>\r\n`;
  return { body, soapAction: `"${serviceType}#${action}"` };
}

/** A SOAP response read: the output arguments asked for, or the UPnP error (UDA 1.1 §3.2.2). */
export type SoapResult =
  | { readonly type: 'ok'; readonly values: Readonly<Record<string, string | undefined>> }
  | { readonly type: 'upnp-error'; readonly errorCode: number | undefined; readonly errorDescription: string | undefined }
  | { readonly type: 'malformed'; readonly reason: string };

/** Reads a SOAP response body for `action`, taking the named output arguments. */
export function decodeSoapResponse(statusCode: number, xml: string, action: string, outputs: readonly string[]): SoapResult {
  if (/<(?:[\w.-]+:)?Fault\b/.test(xml) || statusCode >= 400) {
    const code = firstElementText(xml, 'errorCode');
    const parsed = code === undefined ? undefined : Number.parseInt(code, 10);
    if (parsed === undefined && statusCode < 400) return { type: 'malformed', reason: 'a SOAP fault without a UPnP error' };
    return { type: 'upnp-error', errorCode: Number.isFinite(parsed) ? parsed : undefined, errorDescription: firstElementText(xml, 'errorDescription') ?? `HTTP ${statusCode}` };
  }
  if (!new RegExp(`<(?:[\\w.-]+:)?${action}Response\\b`).test(xml)) return { type: 'malformed', reason: `no ${action}Response element` };
  return { type: 'ok', values: Object.fromEntries(outputs.map((name) => [name, firstElementText(xml, name)])) };
}
