import { isIP } from 'node:net';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { formatTransportAddress } from '../../codec/transport-address.js';
import { systemClock } from '../../platform/system-clock.js';
import { runDatagramServer, type RunningServer } from '../../platform/udp-server.js';
import { RendezvousServerProtocol } from '../../protocol/rendezvous-server.js';
import { StunServerProtocol } from '../../protocol/stun-server.js';
import { ExitCode, ExitError } from '../exit-codes.js';

/** Normalised options of `natscope serve rendezvous`. */
export interface ServeRendezvousOptions {
  readonly address: string;
  readonly alternateAddress?: string;
  readonly port: number;
  readonly stunPort: number;
  readonly alternateStunPort: number;
  readonly software: string;
}

/** Starts the rendezvous server and the RFC 5780 STUN server beside it; logs one "listening on" line once both are up. */
export async function startRendezvousServer(options: ServeRendezvousOptions, log: (line: string) => void): Promise<RunningServer[]> {
  const stun = new StunServerProtocol({
    primaryAddress: options.address,
    primaryPort: options.stunPort,
    ...(options.alternateAddress === undefined ? {} : { alternateAddress: options.alternateAddress, alternatePort: options.alternateStunPort }),
    software: options.software,
  });
  const rendezvous = new RendezvousServerProtocol({ address: options.address, port: options.port });
  const servers: RunningServer[] = [];
  try {
    servers.push(await runDatagramServer(rendezvous, systemClock, (error) => log(`natscope rendezvous: error: ${error.message}`)));
    servers.push(await runDatagramServer(stun, systemClock, (error) => log(`natscope stun: error: ${error.message}`)));
  } catch (error) {
    for (const s of servers) await s.close();
    throw error;
  }
  const [signalling, stunServer] = servers;
  const mode = stun.supportsRfc5780 ? 'RFC 5780' : 'RFC 8489 only (no --alt-address)';
  log(
    `natscope rendezvous: listening on ${signalling!.addresses.map(formatTransportAddress).join(', ')} (signalling); ` +
      `STUN ${mode} on ${stunServer!.addresses.map(formatTransportAddress).join(', ')}`,
  );
  return servers;
}

const port = (name: string, value: unknown): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ExitError(ExitCode.USAGE, `--${name} must be a port number 1-65535, not ${String(value)}`);
  return n;
};

/** `natscope serve rendezvous`: the command with its flags. */
export function serveRendezvousCommand(io: { stderr: (text: string) => void; untilStopped: () => Promise<void> }, result: { exitCode: number }, software: string): CommandModule {
  return {
    command: 'rendezvous',
    describe: 'Rendezvous (signalling) server for natscope p2p on 3480/udp, with the RFC 5780 STUN server on 3478/3479',
    builder: (s: Argv) =>
      s
        .option('address', { type: 'string', demandOption: true, describe: 'primary IP address' })
        .option('alt-address', { type: 'string', describe: 'alternate IP address (the STUN server needs it for RFC 5780)' })
        .option('port', { type: 'number', default: 3480, describe: 'signalling port' })
        .option('stun-port', { type: 'number', default: 3478, describe: 'STUN primary port' })
        .option('alt-stun-port', { type: 'number', default: 3479, describe: 'STUN alternate port' }),
    handler: async (args: ArgumentsCamelCase) => {
      const address = String(args.address);
      if (isIP(address) === 0) throw new ExitError(ExitCode.USAGE, `--address must be an IP address, not ${address}`);
      const alternate = args['alt-address'] === undefined ? undefined : String(args['alt-address']);
      if (alternate !== undefined && isIP(alternate) !== isIP(address)) throw new ExitError(ExitCode.USAGE, '--alt-address must be an IP address of the same version as --address');
      if (alternate === address) throw new ExitError(ExitCode.USAGE, '--alt-address must differ from --address');
      const ports = { port: port('port', args.port), stunPort: port('stun-port', args['stun-port']), alternateStunPort: port('alt-stun-port', args['alt-stun-port']) };
      if (new Set(Object.values(ports)).size !== 3) throw new ExitError(ExitCode.USAGE, '--port, --stun-port and --alt-stun-port must all differ');
      const servers = await startRendezvousServer({ address, ...(alternate === undefined ? {} : { alternateAddress: alternate }), ...ports, software }, io.stderr);
      await io.untilStopped();
      for (const s of servers) await s.close();
      io.stderr('natscope rendezvous: stopped');
      result.exitCode = ExitCode.OK;
    },
  };
}
