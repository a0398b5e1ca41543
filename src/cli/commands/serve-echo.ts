import { formatTransportAddress } from '../../codec/transport-address.js';
import { runDatagramServer, type RunningServer } from '../../platform/udp-server.js';
import { systemClock } from '../../platform/system-clock.js';
import { EchoServerProtocol } from '../../protocol/echo-server.js';

/** Normalised options of `natscope serve echo`. */
export interface ServeEchoOptions {
  readonly address: string;
  readonly port: number;
  readonly alternatePort?: number;
  readonly alternateAddress?: string;
}

/** Starts the echo server; logs one line at start (and on errors). */
export async function startEchoServer(options: ServeEchoOptions, log: (line: string) => void): Promise<RunningServer> {
  const protocol = new EchoServerProtocol({
    address: options.address,
    port: options.port,
    ...(options.alternatePort === undefined ? {} : { alternatePort: options.alternatePort }),
    ...(options.alternateAddress === undefined ? {} : { alternateAddress: options.alternateAddress }),
  });
  const server = await runDatagramServer(protocol, systemClock, (error) => log(`natscope echo: error: ${error.message}`));
  log(`natscope echo: listening on ${server.addresses.map(formatTransportAddress).join(', ')}`);
  return server;
}
