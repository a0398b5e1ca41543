import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { transportAddress, type TransportAddress } from '../codec/transport-address.js';
import { HostResolutionError, InvalidArgumentError } from '../errors.js';

/** A host and port as the user wrote it. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses "host", "host:port", "ip", "ip:port", "[v6]:port" or a bare IPv6; the port defaults to `defaultPort`. */
export function parseHostPort(text: string, defaultPort: number): HostPort {
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  let host: string;
  let portText: string | undefined;
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if (isIP(trimmed) === 6) {
    host = trimmed;
  } else {
    const parts = trimmed.split(':');
    if (parts.length > 2) throw new InvalidArgumentError(`"${text}" is not host[:port] (write IPv6 with a port as [addr]:port)`);
    host = parts[0] ?? '';
    portText = parts[1];
  }
  if (host === '' || !/^[A-Za-z0-9.:_-]+$/.test(host)) throw new InvalidArgumentError(`"${text}" has no valid host name or address`);
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`"${text}": port must be 1-65535`);
  return { host, port };
}

/** Resolves a host to its addresses of `family` (an IP literal is itself); throws HostResolutionError. */
export async function resolveHost(hostPort: HostPort, family: 'IPv4' | 'IPv6', timeoutMs = 5000): Promise<TransportAddress[]> {
  const version = isIP(hostPort.host);
  const wanted = family === 'IPv6' ? 6 : 4;
  if (version !== 0) {
    if (version !== wanted) throw new HostResolutionError(hostPort.host, `it is an IPv${version} address, but IPv${wanted} was asked for`);
    return [transportAddress(hostPort.host, hostPort.port)];
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HostResolutionError(hostPort.host, `no answer from DNS in ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    const results = await Promise.race([lookup(hostPort.host, { family: wanted, all: true }), timeout]);
    if (results.length === 0) throw new HostResolutionError(hostPort.host, `no IPv${wanted} address`);
    return results.map((r) => transportAddress(r.address, hostPort.port));
  } catch (cause) {
    if (cause instanceof HostResolutionError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw new HostResolutionError(hostPort.host, `${code} (no IPv${wanted} address found)`, { cause });
  } finally {
    clearTimeout(timer);
  }
}
