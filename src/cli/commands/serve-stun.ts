import { formatTransportAddress } from '../../codec/transport-address.js';
import { runDatagramServer, type RunningServer } from '../../platform/udp-server.js';
import { systemClock } from '../../platform/system-clock.js';
import { StunServerProtocol } from '../../protocol/stun-server.js';

/** Normalised options of `natscope serve stun`. */
export interface ServeStunOptions {
  readonly address: string;
  readonly port: number;
  readonly alternateAddress?: string;
  readonly alternatePort: number;
  readonly software: string;
}

/** Starts the RFC 5780 STUN server; logs one line at start (and on errors) through `log`. */
export async function startStunServer(options: ServeStunOptions, log: (line: string) => void): Promise<RunningServer> {
  const protocol = new StunServerProtocol({
    primaryAddress: options.address,
    primaryPort: options.port,
    ...(options.alternateAddress === undefined ? {} : { alternateAddress: options.alternateAddress, alternatePort: options.alternatePort }),
    software: options.software,
  });
  const server = await runDatagramServer(protocol, systemClock, (error) => log(`natscope stun: error: ${error.message}`));
  const mode = protocol.supportsRfc5780 ? 'RFC 5780 (two addresses × two ports)' : 'RFC 8489 only (one address: CHANGE-REQUEST gets 420)';
  log(`natscope stun: listening on ${server.addresses.map(formatTransportAddress).join(', ')}; ${mode}`);
  return server;
}
