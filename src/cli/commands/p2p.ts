import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { readAssumedP2pClassification, runP2p, type P2pReport } from '../../api/p2p.js';
import { ExitCode, ExitError } from '../exit-codes.js';
import { checkExpectations, exitCodeFor, parseExpectations } from '../expect.js';
import { renderP2pText } from '../render/p2p-text.js';
import { createProgress } from '../spinner.js';

/** The keys --expect accepts for p2p. */
export const P2P_EXPECT_KEYS = ['direct', 'technique', 'predicted', 'predictionHeld', 'timeToDirectMs', 'probesSent'] as const;

/** Normalised options of `natscope p2p`. */
export interface P2pCliOptions {
  readonly rendezvous: string;
  readonly room: string;
  readonly json: boolean;
  readonly waitSeconds: number;
  readonly expect: readonly string[];
  readonly birthday: boolean;
  readonly birthdayBudget?: number;
  readonly stun?: string;
  readonly assume?: string;
  readonly family?: 4 | 6;
  readonly columns?: number;
}

/** Runs `natscope p2p`; returns the exit code and what to print. */
export async function runP2pCommand(options: P2pCliOptions): Promise<{ exitCode: number; stdout: string }> {
  const expectations = parseExpectations(options.expect, P2P_EXPECT_KEYS);
  const assume = options.assume === undefined ? undefined : readAssumedP2pClassification(options.assume);
  const progress = createProgress(!options.json);
  let report: P2pReport;
  try {
    let connection: Awaited<ReturnType<typeof runP2p>>['connection'];
    ({ report, connection } = await runP2p({
      rendezvous: options.rendezvous,
      room: options.room,
      waitMs: options.waitSeconds * 1000,
      birthday: options.birthday,
      ...(options.birthdayBudget === undefined ? {} : { birthdayBudget: options.birthdayBudget }),
      ...(options.stun === undefined ? {} : { stun: options.stun }),
      ...(assume === undefined ? {} : { assume }),
      ...(options.family === undefined ? {} : { family: options.family }),
      onProgress: (stage) => progress.update(stage),
    }));
    // The command only reports; the punched socket is the library's gift to programs.
    connection?.socket.close();
  } finally {
    progress.stop();
  }
  const results = checkExpectations(report as unknown as Record<string, unknown>, expectations);
  // An answer (direct true or false) is 0; no peer or no rendezvous is inconclusive (3) whatever was expected.
  const exitCode = report.error !== null ? ExitCode.INCONCLUSIVE : exitCodeFor(results, false);
  if (options.json) return { exitCode, stdout: JSON.stringify({ ...report, expectations: results }, null, 2) };
  const lines = results.map((r) => (r.met ? `✔ expected ${r.key}=${r.value}` : `✘ expected ${r.key}=${r.value}, got ${JSON.stringify(r.actual)}`));
  return { exitCode, stdout: [renderP2pText(report, options.columns ?? 80), ...lines].join('\n') };
}

/** `natscope p2p <rendezvous> --room NAME`: the command with its flags. */
export function p2pCommand(io: { stdout: (text: string) => void }, result: { exitCode: number }): CommandModule {
  return {
    command: 'p2p <rendezvous>',
    describe: 'Punch a direct UDP path to a peer that runs the same command with the same room, and measure it',
    builder: (y: Argv) =>
      y
        .positional('rendezvous', { type: 'string', demandOption: true, describe: 'rendezvous server as host[:port] (default port 3480)' })
        .option('room', { type: 'string', demandOption: true, describe: 'the room both peers name (the check key derives from it: make it hard to guess)' })
        .option('json', { type: 'boolean', default: false, describe: 'print one JSON object (schema natscope.p2p/1) on stdout' })
        .option('wait', { type: 'number', default: 60, describe: 'seconds to wait for the peer' })
        .option('expect', { type: 'string', array: true, default: [], describe: 'KEY=VALUE, e.g. direct=true; repeatable' })
        .option('birthday', { type: 'boolean', default: true, describe: 'allow the birthday spray against a random-port NAT (--no-birthday to forbid)' })
        .option('birthday-budget', { type: 'number', describe: 'most random-port probes of the birthday spray (default 1500, at 100/s)' })
        .option('stun', { type: 'string', describe: 'RFC 5780 STUN server to classify against (default: the rendezvous host, port 3478)' })
        .option('assume', { type: 'string', describe: 'a classify --json report to use instead of classifying' })
        .option('family', { choices: [4, 6] as const, describe: 'IP version (default 4, or 6 for an IPv6 address)' })
        .conflicts('assume', 'stun')
        .example('natscope p2p 198.51.100.1 --room garden-42', 'run on both peers with the same room'),
    handler: async (args: ArgumentsCamelCase) => {
      const wait = Number(args.wait);
      if (!(wait > 0)) throw new ExitError(ExitCode.USAGE, `--wait must be a positive number of seconds, not ${String(args.wait)}`);
      const budget = args['birthday-budget'] as number | undefined;
      if (budget !== undefined && !(Number.isInteger(budget) && budget >= 1)) throw new ExitError(ExitCode.USAGE, `--birthday-budget must be a whole number ≥ 1, not ${budget}`);
      const room = String(args.room);
      if (room.length === 0 || room.length > 200) throw new ExitError(ExitCode.USAGE, `--room must be 1-200 characters, not ${room.length}`);
      const { exitCode, stdout } = await runP2pCommand({
        rendezvous: String(args.rendezvous),
        room,
        json: Boolean(args.json),
        waitSeconds: wait,
        expect: ((args.expect as unknown[] | undefined) ?? []).map(String),
        birthday: args.birthday !== false,
        ...(budget === undefined ? {} : { birthdayBudget: budget }),
        ...(args.stun === undefined ? {} : { stun: String(args.stun) }),
        ...(args.assume === undefined ? {} : { assume: String(args.assume) }),
        ...(args.family === undefined ? {} : { family: args.family === 6 ? 6 : 4 }),
        columns: process.stdout.columns ?? 80,
      });
      io.stdout(stdout);
      result.exitCode = exitCode;
    },
  };
}
