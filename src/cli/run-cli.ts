import { isIP } from 'node:net';
import yargs, { type Argv } from 'yargs';
import { NatscopeError } from '../errors.js';
import { LAB_PRESETS } from '../lab/presets.js';
import type { CliCommand, CommandContext, Io, RunState } from './context.js';
import { CLASSIFY_JSON_SCHEMA } from './commands/classify.js';
import { PUNCH_JSON_SCHEMA } from './commands/punch.js';
import { limitsOptions, readLimits } from './options/limits.js';
import { parsePortmapList } from '../lab/portmap.js';
import { GATEWAY_COMMAND } from './commands/gateway.js';
import { P2P_COMMAND } from './commands/p2p.js';
import { serveRendezvousCommand } from './commands/serve-rendezvous.js';
import { renderLabUp } from './render/lab-text.js';
import { ExitCode, ExitError } from './exit-codes.js';
import { ipFlag, numberFlag, portFlag } from './flags.js';
import { natscopeVersion } from './version.js';

export type { Io } from './context.js';

/**
 * Commands that live in their own file (src/cli/commands/NAME.ts, flags beside the handler): add one line here.
 * The handlers below import their protocol code, ora and cli-table3 with `await import()`, so `--help` stays fast.
 */
const COMMANDS: readonly CliCommand[] = [GATEWAY_COMMAND, P2P_COMMAND];

/** The --json schema of each built-in command, so an error before the handler still prints one JSON object. */
const JSON_SCHEMAS: Readonly<Record<string, string>> = {
  classify: CLASSIFY_JSON_SCHEMA,
  punch: PUNCH_JSON_SCHEMA,
  ...Object.fromEntries(COMMANDS.flatMap((c) => (c.jsonSchema === undefined ? [] : [[c.name, c.jsonSchema]]))),
};

const port = portFlag;
const ipAddress = (name: string): ((value: unknown) => string | undefined) => ipFlag(name, (text) => isIP(text) !== 0);

// Numeric flags have no yargs `type`: a number stays a number and anything else reaches `coerce` as typed, so the
// message can name it ("not \"abc\"") instead of NaN; `requiresArg` keeps a bare `--port` from meaning `true`.

/** Declares the commands; each handler stores its exit code in `context.run`. */
function buildParser(argv: readonly string[], context: CommandContext): Argv {
  const { io, run: result, version } = context;
  const parser = yargs([...argv])
    .scriptName('natscope')
    .version(version)
    .strict()
    .parserConfiguration({ 'populate--': true })
    .exitProcess(false)
    .wrap(Math.min(110, io.textWidth))
    .fail((message, error) => {
      // yargs re-throws a failed `coerce` (a bad flag value) as a YError carrying its message: a usage error.
      if (error?.name === 'YError') throw new ExitError(ExitCode.USAGE, error.message);
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
          .option('rto', { requiresArg: true, coerce: numberFlag('rto', { what: 'a positive number of ms', above: 0 }), describe: 'initial RTO in ms (RFC 8489 §6.2.1; default 500)' })
          .option('gateway', { type: 'boolean', default: true, describe: 'also ask the router about UPnP/NAT-PMP/PCP and a second NAT (--no-gateway to skip)' })
          .example('natscope classify', 'use the built-in public servers')
          .example('natscope classify 198.51.100.1 --json --expect mapping=endpoint-independent', 'assert in CI'),
      async (args) => {
        if (args.json) result.jsonSchema = CLASSIFY_JSON_SCHEMA;
        const { runClassifyCommand } = await import('./commands/classify.js');
        const { exitCode, stdout } = await runClassifyCommand({
          servers: (args.servers ?? []).map(String),
          ...(args.family === undefined ? {} : { family: args.family === 6 ? 6 : 4 }),
          json: args.json,
          expect: args.expect.map(String),
          ...(args.rto === undefined ? {} : { rtoMs: args.rto }),
          gateway: args.gateway,
        }, io);
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
            limitsOptions(
              s
              .option('address', { type: 'string', demandOption: true, describe: 'primary IP address' })
              .option('alt-address', { type: 'string', describe: 'alternate IP address (RFC 5780 needs it)' })
              .option('port', { requiresArg: true, default: 3478, coerce: port('port'), describe: 'primary port' })
              .option('alt-port', { requiresArg: true, default: 3479, coerce: port('alt-port'), describe: 'alternate port' })
              .option('software', { type: 'string', default: `natscope ${version}`, describe: 'SOFTWARE attribute' })
              .option('workers', { requiresArg: true, coerce: numberFlag('workers', { what: 'a whole number from 1 to 256', integer: true, min: 1, max: 256 }), describe: 'worker processes serving the same ports (default: the number of cores)' })
              .option('metrics', { type: 'string', describe: 'ADDRESS:PORT: serve Prometheus metrics at http://ADDRESS:PORT/metrics' })
              .option('io', { choices: ['auto', 'batched', 'dgram'] as const, default: 'auto' as const, describe: 'socket I/O: batched (Linux recvmmsg/sendmmsg, the built addon), dgram (node:dgram), auto (batched when built)' }),
              { rateLimit: '200,1000', maxSources: 65_536 },
            ),
          async (args) => {
            const primary = ipAddress('address')(args.address) ?? '';
            const alternate = ipAddress('alt-address')(args['alt-address']);
            if (alternate !== undefined && isIP(alternate) !== isIP(primary)) throw new ExitError(ExitCode.USAGE, '--address and --alt-address must be of the same IP version');
            if (alternate === primary) throw new ExitError(ExitCode.USAGE, '--alt-address must differ from --address');
            const portNumber = args.port;
            const altPort = args['alt-port'];
            if (alternate !== undefined && altPort === portNumber) throw new ExitError(ExitCode.USAGE, '--alt-port must differ from --port');
            const limits = readLimits(args);
            const { startStunServer, parseMetricsFlag } = await import('./commands/serve-stun.js');
            const server = await startStunServer(
              {
                address: primary,
                port: portNumber,
                alternatePort: altPort,
                software: args.software,
                ...(alternate === undefined ? {} : { alternateAddress: alternate }),
                ...(limits.rateLimit === undefined ? {} : { rateLimit: limits.rateLimit }),
                ...(limits.maxSources === undefined ? {} : { maxSources: limits.maxSources }),
                ...(args.workers === undefined ? {} : { workers: args.workers }),
                ...(args.metrics === undefined ? {} : { metrics: parseMetricsFlag(args.metrics) }),
                io: args.io,
              },
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
            limitsOptions(
              s
                .option('address', { type: 'string', demandOption: true, describe: 'IP address' })
                .option('port', { requiresArg: true, default: 9199, coerce: port('port'), describe: 'main port' })
                .option('alt-port', { requiresArg: true, coerce: numberFlag('alt-port', { what: 'a port number 1-65535, or 0 for none', integer: true, min: 0, max: 65535 }), describe: 'alternate port, to test filtering (default: port + 1; 0 for none)' })
                .option('alt-address', { type: 'string', describe: 'alternate IP address (with the alternate port)' }),
            ),
          async (args) => {
            const address = ipAddress('address')(args.address) ?? '';
            const alternateAddress = ipAddress('alt-address')(args['alt-address']);
            const mainPort = args.port;
            if (args['alt-port'] === undefined && mainPort === 65535) {
              throw new ExitError(ExitCode.USAGE, '--port 65535 leaves no room for the alternate port (port + 1 = 65536): give --alt-port, or --alt-port 0 for none');
            }
            const altPort = args['alt-port'] === 0 ? undefined : (args['alt-port'] ?? mainPort + 1);
            if (altPort === mainPort) throw new ExitError(ExitCode.USAGE, '--alt-port must differ from --port');
            if (alternateAddress !== undefined && altPort === undefined) throw new ExitError(ExitCode.USAGE, '--alt-address needs an alternate port');
            const { startEchoServer } = await import('./commands/serve-echo.js');
            const server = await startEchoServer(
              {
                address,
                port: mainPort,
                ...(altPort === undefined ? {} : { alternatePort: altPort }),
                ...(alternateAddress === undefined ? {} : { alternateAddress }),
                ...readLimits(args),
              },
              io.stderr,
            );
            await io.untilStopped();
            await server.close();
            io.stderr('natscope echo: stopped');
            result.exitCode = ExitCode.OK;
          },
        )
        .command(serveRendezvousCommand(io, result, `natscope ${version}`))
        .demandCommand(1, 'say which server: stun, echo or rendezvous'),
    )
    .command(
      'punch <server>',
      'Punch a hole to a natscope echo server, confirm it, and measure how long the NAT keeps it open',
      (y) =>
        y
          .positional('server', { type: 'string', demandOption: true, describe: 'echo server as host[:port] (default port 9199)' })
          .option('alt-port', { requiresArg: true, coerce: numberFlag('alt-port', { what: 'a port number 1-65535, or 0 to skip', integer: true, min: 0, max: 65535 }), describe: "the server's alternate port (default: port + 1; 0 to skip)" })
          .option('json', { type: 'boolean', default: false, describe: 'print one JSON object on stdout' })
          .option('expect', { type: 'string', array: true, default: [], describe: 'KEY=VALUE, e.g. punched=true; repeatable' })
          .option('family', { choices: [4, 6] as const, describe: 'IP version (default 4, or 6 for an IPv6 address)' })
          .option('lifetime', { type: 'boolean', default: true, describe: 'measure the idle lifetime after one exchange (--no-lifetime to skip)' })
          .option('sustained', { type: 'boolean', default: true, describe: 'measure it after sustained two-way traffic (--no-sustained to skip)' })
          .option('max-lifetime', { requiresArg: true, default: 600, coerce: numberFlag('max-lifetime', { what: 'at least 1 s', min: 1 }), describe: 'seconds: stop and say "still open" beyond this' })
          .option('max-mappings', { requiresArg: true, default: 64, coerce: numberFlag('max-mappings', { what: 'a whole number ≥ 8', integer: true, min: 8 }), describe: 'most NAT mappings held at once (a carrier NAT port quota)' })
          .option('assume', { type: 'string', describe: 'a classify --json report, to explain the outcome' })
          .option('classify', { type: 'string', describe: 'classify first against this RFC 5780 STUN server (host[:port]) to explain the outcome' })
          .option('filtering-lifetime', { type: 'boolean', default: false, describe: "also measure how long the server's other port may get in (after the other searches)" })
          .conflicts('assume', 'classify'),
      async (args) => {
        if (args.json) result.jsonSchema = PUNCH_JSON_SCHEMA;
        const altPort = args['alt-port'] === undefined ? undefined : args['alt-port'] === 0 ? null : args['alt-port'];
        const { runPunchCommand } = await import('./commands/punch.js');
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
        }, io);
        io.stdout(stdout);
        result.exitCode = exitCode;
      },
    )
    .command('lab', 'Real emulated NATs in Linux network namespaces (root only)', (y) =>
      y
        .command(
          'up',
          'Build the lab: a public host with two addresses, two NATs, a client behind each',
          (l) =>
            l
              .option('preset', { choices: LAB_PRESETS.map((p) => p.name), demandOption: true, describe: 'the NAT to emulate (nat1, in front of client1)' })
              .option('peer-preset', { choices: LAB_PRESETS.map((p) => p.name), describe: 'the NAT in front of client2 (nat2); default: the same as --preset' })
              .option('udp-timeout', { requiresArg: true, default: 30, coerce: numberFlag('udp-timeout', { what: 'a whole number of seconds ≥ 1', integer: true, min: 1 }), describe: 'seconds a hole lives after one exchange (nf_conntrack_udp_timeout)' })
              .option('udp-stream-timeout', { requiresArg: true, default: 120, coerce: numberFlag('udp-stream-timeout', { what: 'a whole number of seconds ≥ 1', integer: true, min: 1 }), describe: 'seconds after two-way traffic (nf_conntrack_udp_timeout_stream)' })
              .option('loss', { requiresArg: true, default: 0, coerce: numberFlag('loss', { what: 'a percentage 0-100', min: 0, max: 100 }), describe: 'percent of packets dropped each way through the NAT' })
              .option('hairpin', { type: 'boolean', default: false, describe: 'let the NAT hairpin (port-preserving presets)' })
              .option('portmap', { type: 'string', describe: 'run miniupnpd on nat1 offering these: upnp,pmp,pcp (or a subset)' })
              .option('carrier-nat', { type: 'boolean', default: false, describe: 'put a carrier-grade NAT (100.64.0.0/10 inside) above nat1' }),
          async (args) => {
            const portmap = args.portmap === undefined ? undefined : parsePortmapList(args.portmap);
            if (portmap !== undefined && 'error' in portmap) throw new ExitError(ExitCode.USAGE, portmap.error);
            const { labUp } = await import('../api/lab.js');
            const lab = labUp({
              preset: args.preset,
              ...(args['peer-preset'] === undefined ? {} : { peerPreset: args['peer-preset'] }),
              udpTimeoutSeconds: args['udp-timeout'],
              udpStreamTimeoutSeconds: args['udp-stream-timeout'],
              lossPercent: args.loss,
              hairpin: args.hairpin,
              ...(portmap === undefined ? {} : { portmap: portmap.protocols }),
              carrierNat: args['carrier-nat'],
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
            const { labExec } = await import('../api/lab.js');
            result.exitCode = await labExec(String(args.host), argv);
          },
        )
        .command('down', 'Remove the lab', () => {}, async () => {
          const { labDown } = await import('../api/lab.js');
          labDown();
          io.stdout('lab down');
          result.exitCode = ExitCode.OK;
        })
        .demandCommand(1, 'say what to do: up, exec or down'),
    )
    .help();
  return COMMANDS.reduce((y, command) => command.register(y, context), parser);
}

/** The exit code and the JSON error code of an error, and its message for a person. */
export function describeFailure(error: unknown): { exitCode: number; code: string; message: string } {
  if (error instanceof ExitError) {
    const codes: Record<number, string> = {
      [ExitCode.USAGE]: 'ERR_USAGE',
      [ExitCode.INCONCLUSIVE]: 'ERR_INCONCLUSIVE',
      [ExitCode.SYSTEM]: 'ERR_SYSTEM',
      [ExitCode.EXPECTATION_FAILED]: 'ERR_EXPECTATION',
    };
    return { exitCode: error.exitCode, code: codes[error.exitCode] ?? 'ERR_INTERNAL', message: error.message };
  }
  if (error instanceof NatscopeError) {
    const exitCode = error.code === 'ERR_INVALID_ARGUMENT' ? ExitCode.USAGE : error.code === 'ERR_HOST_UNRESOLVABLE' ? ExitCode.INCONCLUSIVE : ExitCode.SYSTEM;
    return { exitCode, code: error.code, message: error.message };
  }
  return { exitCode: ExitCode.INTERNAL, code: 'ERR_INTERNAL', message: `internal error: ${(error as Error)?.stack ?? String(error)}` };
}

/** True when the command line asks for JSON (--json, --json=true), before any "--". */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const flags = end < 0 ? argv : argv.slice(0, end);
  let json = false;
  for (const flag of flags) {
    if (flag === '--json' || flag === '--json=true') json = true;
    if (flag === '--no-json' || flag === '--json=false') json = false;
  }
  return json;
}

/** The JSON --json prints when a run ends without a report: schema, error {code, message}, exitCode. */
export function jsonErrorObject(schema: string, failure: { exitCode: number; code: string; message: string }): string {
  return JSON.stringify({ schema, error: { code: failure.code, message: failure.message }, exitCode: failure.exitCode }, null, 2);
}

/** The schema to put on a JSON error: the command's (set by its handler, or known by its name). */
export function jsonSchemaFor(argv: readonly string[], run: RunState): string {
  return run.jsonSchema ?? JSON_SCHEMAS[argv[0] ?? ''] ?? 'natscope.error/1';
}

/**
 * Parses and runs a command line; returns the exit code. The one place errors become messages: on stderr for a
 * person, and, with --json, also as one JSON object on stdout. `run` is shared with the entry point, which reads
 * it when a signal ends the run early.
 */
export async function runCli(argv: readonly string[], io: Io, run: RunState = { exitCode: ExitCode.OK }): Promise<number> {
  try {
    await buildParser(argv, { io, run, version: natscopeVersion() }).parseAsync();
    return run.exitCode;
  } catch (error) {
    const failure = describeFailure(error);
    io.stderr(`natscope: ${failure.message}`);
    if (failure.exitCode === ExitCode.USAGE) io.stderr('Run natscope --help for usage.');
    if (wantsJson(argv)) io.stdout(jsonErrorObject(jsonSchemaFor(argv, run), failure));
    return failure.exitCode;
  }
}
