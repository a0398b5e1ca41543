import { formatTransportAddress } from '../../codec/transport-address.js';
import { runDatagramServer, type RunningServer } from '../../platform/udp-server.js';
import { systemClock } from '../../platform/system-clock.js';
import { EchoServerProtocol } from '../../protocol/echo-server.js';
import type { RateLimit } from '../../protocol/rate-limiter.js';

/** Normalised options of `natscope serve echo`. */
export interface ServeEchoOptions {
  readonly address: string;
  readonly port: number;
  readonly alternatePort?: number;
  readonly alternateAddress?: string;
  /** Per-source token bucket ('off' for labs and benchmarks); the server's default when absent. */
  readonly rateLimit?: RateLimit | 'off';
  /** The most sources tracked at once; the server's default when absent. */
  readonly maxSources?: number;
}

/** Starts the echo server; logs one line at start (and on errors). */
export async function startEchoServer(options: ServeEchoOptions, log: (line: string) => void): Promise<RunningServer> {
  const protocol = new EchoServerProtocol({
    address: options.address,
    port: options.port,
    ...(options.alternatePort === undefined ? {} : { alternatePort: options.alternatePort }),
    ...(options.alternateAddress === undefined ? {} : { alternateAddress: options.alternateAddress }),
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
    ...(options.maxSources === undefined ? {} : { maxSources: options.maxSources }),
  });
  const server = await runDatagramServer(protocol, systemClock, (error) => log(`natscope echo: error: ${error.message}`));
  const { rateLimit, maxSources, maxRegistrationsPerSource } = protocol.limits;
  const rate = rateLimit === 'off' ? 'rate limit off' : `${rateLimit.packetsPerSecond} packets/s (burst ${rateLimit.burst}) per source`;
  log(`natscope echo: listening on ${server.addresses.map(formatTransportAddress).join(', ')}; ${rate}, ${maxSources} sources, ${maxRegistrationsPerSource} registrations per source`);
  return server;
}
