import type { Argv } from 'yargs';

/** What a command may touch of the outside world; main.ts gives the real process, tests give fakes. */
export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Resolves when the user asks a server to stop (SIGINT/SIGTERM). */
  readonly untilStopped: () => Promise<void>;
  /** Registers what to undo if the run is interrupted (stop a spinner); returns a function that unregisters it. */
  readonly onInterrupt: (cleanup: () => void) => () => void;
  /** Columns to lay text out in (see terminal.ts). */
  readonly textWidth: number;
  /** The stream a spinner may draw on, and the environment that decides whether it does. */
  readonly progressStream?: NodeJS.WriteStream;
  readonly env?: NodeJS.ProcessEnv;
}

/** The state of one run that the entry point reads back: the exit code, and whether --json was asked. */
export interface RunState {
  exitCode: number;
  /** Set by a command that prints JSON, so failures and interruptions print a JSON error object too. */
  jsonSchema?: string;
}

/** What every command's registration gets. */
export interface CommandContext {
  readonly io: Io;
  readonly run: RunState;
  readonly version: string;
}

/**
 * A natscope command: `src/cli/commands/NAME.ts` exports one, with its flags beside its handler; run-cli.ts lists it.
 * Handlers import what they need (sockets, protocol code, ora, cli-table3) with `await import()`, so `--help` and
 * the other commands do not pay for them.
 */
export interface CliCommand {
  /** The first word on the command line. */
  readonly name: string;
  /** The schema of its --json output ("natscope.classify/1"), when it has one: errors then print as JSON too. */
  readonly jsonSchema?: string;
  readonly register: (yargs: Argv, context: CommandContext) => Argv;
}
