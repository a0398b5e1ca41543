import { isIP } from 'node:net';
import type { Argv } from 'yargs';
import type { GatewayReport } from '../../api/gateway.js';
import type { CliCommand, Io } from '../context.js';
import { ExitCode, ExitError } from '../exit-codes.js';
import { checkExpectations, exitCodeFor, parseExpectations } from '../expect.js';

/** The schema of `natscope gateway --json`. */
export const GATEWAY_JSON_SCHEMA = 'natscope.gateway/1';

/** Normalised options of `natscope gateway`. */
export interface GatewayCommandOptions {
  readonly json: boolean;
  readonly expect: readonly string[];
  readonly verify?: string;
  readonly gateway?: string;
  readonly trace?: string;
  readonly columns?: number;
  readonly signal?: AbortSignal;
}

/** The keys --expect accepts; `upnp=true` is short for `upnp.available=true`. */
export const GATEWAY_EXPECT_KEYS = [
  'gateway',
  'doubleNat',
  'carrierNat',
  ...['upnp', 'natPmp', 'pcp'].flatMap((p) => [p, `${p}.available`, `${p}.externalAddress`, `${p}.epoch`]),
  'upnp.connected',
  'natPmp.canMap',
  'pcp.resultName',
  'verify.protocol',
  'verify.inboundArrived',
  'verify.mappingRemoved',
  'verify.externalPort',
] as const;

const PROTOCOLS = ['upnp', 'natPmp', 'pcp'];

/** Runs `natscope gateway`; returns the exit code and what to print. Protocol code loads only here. */
export async function runGatewayCommand(options: GatewayCommandOptions, io?: Io): Promise<{ exitCode: number; stdout: string }> {
  const expectations = parseExpectations(options.expect, GATEWAY_EXPECT_KEYS).map((e) => (PROTOCOLS.includes(e.key) ? { ...e, key: `${e.key}.available` } : e));
  const [{ gateway }, { createProgress }] = await Promise.all([import('../../api/gateway.js'), import('../spinner.js')]);
  const progress = await createProgress(!options.json && io !== undefined, io?.progressStream, io?.env, io?.onInterrupt);
  progress.update(options.verify === undefined ? 'asking the router' : `asking the router, then testing a mapping with ${options.verify}`);
  let report: GatewayReport;
  try {
    report = await gateway({
      ...(options.verify === undefined ? {} : { verify: options.verify }),
      ...(options.gateway === undefined ? {} : { gateway: options.gateway }),
      ...(options.trace === undefined ? {} : { traceHost: options.trace }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } finally {
    progress.stop();
  }
  const results = checkExpectations(report as unknown as Record<string, unknown>, expectations);
  const exitCode = exitCodeFor(results, report.verify !== null && report.verify.inboundArrived === null);
  if (options.json) return { exitCode, stdout: JSON.stringify({ ...report, expectations: results }, null, 2) };
  const [{ renderGatewayText }, { renderExpectations }, { wrapParagraph }] = await Promise.all([
    import('../render/gateway-text.js'),
    import('../render/expectations-text.js'),
    import('../render/wrap.js'),
  ]);
  const columns = options.columns ?? 80;
  return { exitCode, stdout: [renderGatewayText(report, columns), ...renderExpectations(results).map((line) => wrapParagraph(line, columns))].join('\n') };
}


/** `natscope gateway`: its flags beside its handler (run-cli.ts lists it). */
export const GATEWAY_COMMAND: CliCommand = {
  name: 'gateway',
  jsonSchema: GATEWAY_JSON_SCHEMA,
  register: (yargs, { io, run }) => yargs.command(gatewayCommandModule(io, run)),
};

/** The yargs declaration of `natscope gateway`; the handler stores its exit code in `result`. */
function gatewayCommandModule(io: Io, result: { exitCode: number }) {
  return {
    command: 'gateway',
    describe: 'What your router offers (UPnP-IGD, NAT-PMP, PCP), whether a mapping really lets traffic in, and whether there is a second NAT',
    builder: (y: Argv) =>
      y
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON object on stdout' })
        .option('expect', { type: 'string', array: true, default: [], describe: 'KEY=VALUE with dotted keys, e.g. natPmp.available=true; repeatable' })
        .option('verify', { type: 'string', describe: 'natscope echo server host[:port]: make one short UDP mapping (deleted at the end) and check that traffic comes in through it' })
        .option('gateway', { type: 'string', describe: 'the router address (default: the default gateway)' })
        .option('trace', { type: 'string', describe: 'a host to trace the first routers toward, looking for a carrier-grade NAT (default: the --verify host)' })
        .example('natscope gateway', 'which port-mapping protocols the router answers')
        .example('natscope gateway --verify echo.example.net --expect verify.inboundArrived=true', 'prove that a mapping lets traffic in'),
    handler: async (argv: Record<string, unknown>) => {
      const args = argv as { json: boolean; expect: unknown[]; verify?: string; gateway?: string; trace?: string };
      if (args.gateway !== undefined && isIP(args.gateway) !== 4) throw new ExitError(ExitCode.USAGE, `--gateway must be an IPv4 address, not ${args.gateway}`);
      const controller = new AbortController();
      // Ctrl-C ends the wait; the mapping made for --verify is still deleted before natscope exits.
      void io.untilStopped().then(() => controller.abort());
      const { exitCode, stdout } = await runGatewayCommand({
        json: args.json,
        expect: args.expect.map(String),
        ...(args.verify === undefined ? {} : { verify: args.verify }),
        ...(args.gateway === undefined ? {} : { gateway: args.gateway }),
        ...(args.trace === undefined ? {} : { trace: args.trace }),
        columns: io.textWidth,
        signal: controller.signal,
      }, io);
      io.stdout(stdout);
      result.exitCode = exitCode;
    },
  };
}
