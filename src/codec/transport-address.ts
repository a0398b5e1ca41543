import { isIP } from 'node:net';

/** An IP address and port: RFC 8489's "transport address" (UDP implied). */
export interface TransportAddress {
  readonly family: 'IPv4' | 'IPv6';
  readonly address: string;
  readonly port: number;
}

/** Builds a TransportAddress, taking the family from the address text. */
export function transportAddress(address: string, port: number): TransportAddress {
  const version = isIP(address);
  if (version === 0) throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
  return { family: version === 6 ? 'IPv6' : 'IPv4', address: normalizeIp(address), port };
}

/** Formats as "ip:port", or "[ip]:port" for IPv6. */
export function formatTransportAddress(endpoint: { address: string; port: number }): string {
  return isIP(endpoint.address) === 6 ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}

/** True when both name the same IP and port. */
export function sameTransportAddress(
  a: { address: string; port: number } | undefined,
  b: { address: string; port: number } | undefined,
): boolean {
  return a !== undefined && b !== undefined && a.port === b.port && sameIp(a.address, b.address);
}

/** True when both texts name the same IP, whatever their spelling (IPv4-mapped IPv6 included). */
export function sameIp(a: string, b: string): boolean {
  return normalizeIp(a) === normalizeIp(b);
}

/** Canonical text of an IP: lower case, IPv4-mapped IPv6 (::ffff:a.b.c.d) as plain IPv4, zero runs compressed. */
export function normalizeIp(address: string): string {
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIP(lower) !== 6) return lower;
  return ipv6FromBytes(ipv6ToBytes(lower));
}

/** The 4 or 16 bytes of an IP address in network order. */
export function ipToBytes(address: string): Uint8Array {
  const version = isIP(address);
  if (version === 4) return Uint8Array.from(address.split('.').map(Number));
  if (version === 6) return ipv6ToBytes(address.toLowerCase());
  throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
}

/** The text of an IP address from its 4 or 16 bytes. */
export function ipFromBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length === 16) return ipv6FromBytes(bytes);
  throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
}

function ipv6ToBytes(address: string): Uint8Array {
  let text = address;
  const bytes = new Uint8Array(16);
  // An embedded dotted IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1] !== undefined) {
    const v4 = dotted[1].split('.').map(Number);
    text = text.slice(0, -dotted[1].length) + `${(((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16)}:${(((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...new Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  groups.forEach((group, i) => {
    const value = parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}

function ipv6FromBytes(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952 §4.2: compress the longest run (of two or more) of zero groups.
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j += 1;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
