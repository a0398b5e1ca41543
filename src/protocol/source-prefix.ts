import { isIP } from 'node:net';
import { ipToBytes, normalizeIp } from '../codec/transport-address.js';

/**
 * The "source" that per-source limits count against: an IPv4 address, or an IPv6 /64 (one subscriber's
 * prefix, RFC 6177 §2 — a host can pick any of 2^64 addresses in it, so counting per IPv6 address bounds nothing).
 */
export function sourcePrefixOf(address: string): string {
  if (isIP(address) !== 6) return address;
  const normal = normalizeIp(address);
  if (isIP(normal) !== 6) return normal; // IPv4-mapped IPv6 counts as its IPv4 address
  return `${Buffer.from(ipToBytes(normal).subarray(0, 8)).toString('hex')}/64`;
}
