import { isIP } from 'node:net';
import yargs, { type Argv } from 'yargs';
import { NatscopeError } from '../errors.js';
import { runClassifyCommand } from './commands/classify.js';
import { startStunServer } from './commands/serve-stun.js';
import { startEchoServer } from './commands/serve-echo.js';
import { runPunchCommand } from './commands/punch.js';
import { p2pCommand } from './commands/p2p.js';
import { serveRendezvousCommand } from './commands/serve-rendezvous.js';
import { labDown, labExec, labUp } from '../api/lab.js';
import { LAB_PRESETS } from '../lab/presets.js';
import { renderLabUp } from './render/lab-text.js';
import { ExitCode, ExitError } from './exit-codes.js';

const VERSION = '0.1.0';

/** What a command may touch of the outside world; main.ts gives the real process. */
export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Resolves when the user asks a server to stop (SIGINT/SIGTERM). */
  readonly untilStopped: () => Promise<void>;
}

const port = (name: string) => (value: unknown): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ExitError(ExitCode.USAGE, `--${name} must be a port number 1-65535, not ${String(value)}`);
  return n;
};
const ipAddress = (name: string) => (value: unknown): string | undefined => {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || isIP(value) === 0) throw new ExitError(ExitCode.USAGE, `--${name} must be an IP address, not ${String(value)}`);
  return value;
};

/** Declares the commands; each handler stores its exit code in `result`. */
function buildParser(argv: readonly string[], io: Io, result: { exitCode: number }): Argv {
  return yargs([...argv])
    .scriptName('natscope')
    .version(VERSION)
    .strict()
    .parserConfiguration({ 'populate--': true })
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((message, error) => {
      if (error !== undefined && error !== null) throw error;
      throw new ExitError(ExitCode.USAGE, message ?? 'bad usage');
    })
    .demandCommand(1, 'say which command to run')
    .command(
      'classify [servers..]',
      'Classify your NAT with RFC 5780 tests (mapping, filtering, hairpinning, ALG, port allocation)',
      (y) =>
        y
          .positional('servers', { type: 'string', array: true, describe: 'STUN servers as host[:port] (default port 3478); default: a built-in public list' })
          .option('json', { type: 'boolean', default: false, describe: 'print one JSON object on stdout' })
          .option('expect', { type: 'string', array: true, default: [], describe: 'KEY=VALUE: fail (exit 1) unless the report says so; repeatable' })
          .option('family', { choices: [4, 6] as const, describe: 'IP version (default 4, or 6 when the servers are IPv6 addresses)' })
          .option('rto', { type: 'number', describe: 'initial RTO in ms (RFC 8489 §6.2.1; default 500)' })
          .example('natscope classify', 'use the built-in public servers')
          .example('natscope classify 198.51.100.1 --json --expect mapping=endpoint-independent', 'assert in CI'),
      async (args) => {
        if (args.rto !== undefined && !(args.rto > 0)) throw new ExitError(ExitCode.USAGE, `--rto must be a positive number of ms, not ${args.rto}`);
        const { exitCode, stdout } = await runClassifyCommand({
          servers: (args.servers ?? []).map(String),
          ...(args.family === undefined ? {} : { family: args.family === 6 ? 6 : 4 }),
          json: args.json,
          expect: args.expect.map(String),
          ...(args.rto === undefined ? {} : { rtoMs: args.rto }),
        });
        io.stdout(stdout);
        result.exitCode = exitCode;
      },
    )
    .command('serve', 'Run a natscope server', (y) =>
      y
        .command(
          'stun',
          'RFC 5780 STUN server: two addresses × two ports (one address: a plain RFC 8489 server)',
          (s) =>
            s
              .option('address', { type: 'string', demandOption: true, describe: 'primary IP address' })
              .option('alt-address', { type: 'string', describe: 'alternate IP address (RFC 5780 needs it)' })
              .option('port', { type: 'number', default: 3478, describe: 'primary port' })
              .option('alt-port', { type: 'number', default: 3479, describe: 'alternate port' })
              .option('software', { type: 'string', default: `natscope ${VERSION}`, describe: 'SOFTWARE attribute' }),
          async (args) => {
            const primary = ipAddress('address')(args.address) ?? '';
            const alternate = ipAddress('alt-address')(args['alt-address']);
            if (alternate !== undefined && isIP(alternate) !== isIP(primary)) throw new ExitError(ExitCode.USAGE, '--address and --alt-address must be of the same IP version');
            if (alternate === primary) throw new ExitError(ExitCode.USAGE, '--alt-address must differ from --address');
            const portNumber = port('port')(args.port);
            const altPort = port('alt-port')(args['alt-port']);
            if (alternate !== undefined && altPort === portNumber) throw new ExitError(ExitCode.USAGE, '--alt-port must differ from --port');
            const server = await startStunServer(
              { address: primary, port: portNumber, alternatePort: altPort, software: args.software, ...(alternate === undefined ? {} : { alternateAddress: alternate }) },
              io.stderr,
            );
            await io.untilStopped();
            await server.close();
            io.stderr('natscope stun: stopped');
            result.exitCode = ExitCode.OK;
          },
        )
        .command(
          'echo',
          'The companion echo server for natscope punch (and nc -u): answers from the port a datagram came in on',
          (s) =>
            s
              .option('address', { type: 'string', demandOption: true, describe: 'IP address' })
              .option('port', { type: 'number', default: 9199, describe: 'main port' })
              .option('alt-port', { type: 'number', describe: 'alternate port, to test filtering (default: port + 1; 0 for none)' })
              .option('alt-address', { type: 'string', describe: 'alternate IP address (with the alternate port)' }),
          async (args) => {
            const address = ipAddress('address')(args.address) ?? '';
            const alternateAddress = ipAddress('alt-address')(args['alt-address']);
            const mainPort = port('port')(args.port);
            const altPort = args['alt-port'] === 0 ? undefined : port('alt-port')(args['alt-port'] ?? mainPort + 1);
            if (altPort === mainPort) throw new ExitError(ExitCode.USAGE, '--alt-port must differ from --port');
            if (alternateAddress !== undefined && altPort === undefined) throw new ExitError(ExitCode.USAGE, '--alt-address needs an alternate port');
            const server = await startEchoServer(
              { address, port: mainPort, ...(altPort === undefined ? {} : { alternatePort: altPort }), ...(alternateAddress === undefined ? {} : { alternateAddress }) },
              io.stderr,
            );
            await io.untilStopped();
            await server.close();
            io.stderr('natscope echo: stopped');
            result.exitCode = ExitCode.OK;
          },
        )
        .command(serveRendezvousCommand(io, result, `natscope ${VERSION}`))
        .demandCommand(1, 'say which server: stun, echo or rendezvous'),
    )
    .command(
      'punch <server>',
      'Punch a hole to a natscope echo server, confirm it, and measure how long the NAT keeps it open',
      (y) =>
        y
          .positional('server', { type: 'string', demandOption: true, describe: 'echo server as host[:port] (default port 9199)' })
          .option('alt-port', { type: 'number', describe: "the server's alternate port (default: port + 1; 0 to skip)" })
          .option('json', { type: 'boolean', default: false, describe: 'print one JSON object on stdout' })
          .option('expect', { type: 'string', array: true, default: [], describe: 'KEY=VALUE, e.g. punched=true; repeatable' })
          .option('family', { choices: [4, 6] as const, describe: 'IP version (default 4, or 6 for an IPv6 address)' })
          .option('lifetime', { type: 'boolean', default: true, describe: 'measure the idle lifetime after one exchange (--no-lifetime to skip)' })
          .option('sustained', { type: 'boolean', default: true, describe: 'measure it after sustained two-way traffic (--no-sustained to skip)' })
          .option('max-lifetime', { type: 'number', default: 600, describe: 'seconds: stop and say "still open" beyond this' })
          .option('max-mappings', { type: 'number', default: 64, describe: 'most NAT mappings held at once (a carrier NAT port quota)' })
          .option('assume', { type: 'string', describe: 'a classify --json report, to explain the outcome' })
          .option('classify', { type: 'string', describe: 'classify first against this RFC 5780 STUN server (host[:port]) to explain the outcome' })
          .option('filtering-lifetime', { type: 'boolean', default: false, describe: "also measure how long the server's other port may get in (after the other searches)" })
          .conflicts('assume', 'classify'),
      async (args) => {
        const altPort = args['alt-port'] === undefined ? undefined : args['alt-port'] === 0 ? null : port('alt-port')(args['alt-port']);
        if (!(args['max-lifetime'] >= 1)) throw new ExitError(ExitCode.USAGE, `--max-lifetime must be at least 1 s, not ${args['max-lifetime']}`);
        if (!Number.isInteger(args['max-mappings']) || args['max-mappings'] < 8) throw new ExitError(ExitCode.USAGE, `--max-mappings must be a whole number ≥ 8, not ${args['max-mappings']}`);
        const { exitCode, stdout } = await runPunchCommand({
          server: String(args.server),
          alternatePort: altPort,
          ...(args.family === undefined ? {} : { family: args.family === 6 ? 6 : 4 }),
          json: args.json,
          expect: args.expect.map(String),
          lifetime: args.lifetime,
          sustained: args.sustained,
          maxLifetimeSeconds: args['max-lifetime'],
          maxMappings: args['max-mappings'],
          ...(args.assume === undefined ? {} : { assume: args.assume }),
          ...(args.classify === undefined ? {} : { classifyWith: args.classify }),
          filteringLifetime: args['filtering-lifetime'],
        });
        io.stdout(stdout);
        result.exitCode = exitCode;
      },
    )
    .command(p2pCommand(io, result))
    .command('lab', 'Real emulated NATs in Linux network namespaces (root only)', (y) =>
      y
        .command(
          'up',
          'Build the lab: a public host with two addresses, two NATs, a client behind each',
          (l) =>
            l
              .option('preset', { choices: LAB_PRESETS.map((p) => p.name), demandOption: true, describe: 'the NAT to emulate (nat1, in front of client1)' })
              .option('peer-preset', { choices: LAB_PRESETS.map((p) => p.name), describe: 'the NAT in front of client2 (nat2); default: the same as --preset' })
              .option('udp-timeout', { type: 'number', default: 30, describe: 'seconds a hole lives after one exchange (nf_conntrack_udp_timeout)' })
              .option('udp-stream-timeout', { type: 'number', default: 120, describe: 'seconds after two-way traffic (nf_conntrack_udp_timeout_stream)' })
              .option('loss', { type: 'number', default: 0, describe: 'percent of packets dropped each way through the NAT' })
              .option('hairpin', { type: 'boolean', default: false, describe: 'let the NAT hairpin (port-preserving presets)' }),
          (args) => {
            for (const [name, value] of [['udp-timeout', args['udp-timeout']], ['udp-stream-timeout', args['udp-stream-timeout']]] as const) {
              if (!Number.isInteger(value) || value < 1) throw new ExitError(ExitCode.USAGE, `--${name} must be a whole number of seconds ≥ 1, not ${value}`);
            }
            const lab = labUp({
              preset: args.preset,
              ...(args['peer-preset'] === undefined ? {} : { peerPreset: args['peer-preset'] }),
              udpTimeoutSeconds: args['udp-timeout'],
              udpStreamTimeoutSeconds: args['udp-stream-timeout'],
              lossPercent: args.loss,
              hairpin: args.hairpin,
            });
            io.stdout(renderLabUp(lab));
            result.exitCode = ExitCode.OK;
          },
        )
        .command(
          'exec <host> [command..]',
          'Run a command in a lab host: public, nat1, nat2, client1, client2',
          (l) => l.positional('host', { type: 'string', demandOption: true }).positional('command', { type: 'string', array: true }),
          async (args) => {
            const argv = [...((args['--'] as string[] | undefined) ?? []), ...(args.command ?? []).map(String)];
            result.exitCode = await labExec(String(args.host), argv);
          },
        )
        .command('down', 'Remove the lab', () => {}, () => {
          labDown();
          io.stdout('lab down');
          result.exitCode = ExitCode.OK;
        })
        .demandCommand(1, 'say what to do: up, exec or down'),
    )
    .help();
}

/** Parses and runs a command line; returns the exit code. The one place errors become messages. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const result = { exitCode: ExitCode.OK as number };
  try {
    await buildParser(argv, io, result).parseAsync();
    return result.exitCode;
  } catch (error) {
    if (error instanceof ExitError) {
      io.stderr(`natscope: ${error.message}`);
      if (error.exitCode === ExitCode.USAGE) io.stderr('Run natscope --help for usage.');
      return error.exitCode;
    }
    if (error instanceof NatscopeError) {
      io.stderr(`natscope: ${error.message}`);
      switch (error.code) {
        case 'ERR_INVALID_ARGUMENT':
          return ExitCode.USAGE;
        case 'ERR_HOST_UNRESOLVABLE':
          return ExitCode.INCONCLUSIVE;
        default:
          return ExitCode.SYSTEM;
      }
    }
    io.stderr(`natscope: internal error: ${(error as Error)?.stack ?? String(error)}`);
    return ExitCode.INTERNAL;
  }
}
