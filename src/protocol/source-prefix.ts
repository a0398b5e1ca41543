import { isIP } from 'node:net';
import { ipToBytes, normalizeIp } from '../codec/transport-address.js';

/**
 * The "source" that per-source limits count against: an IPv4 address, or an IPv6 /64. A host picks its own 64-bit
 * interface identifier (RFC 4291 §2.5.1; new temporary ones at will, RFC 8981), so counting per IPv6 address
 * would bound nothing.
 */
export function sourcePrefixOf(address: string): string {
  if (isIP(address) !== 6) return address;
  const normal = normalizeIp(address);
  if (isIP(normal) !== 6) return normal; // IPv4-mapped IPv6 counts as its IPv4 address
  return `${Buffer.from(ipToBytes(normal).subarray(0, 8)).toString('hex')}/64`;
}
