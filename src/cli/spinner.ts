import ora, { type Ora } from 'ora';

/** A progress display: an ora spinner on a terminal, nothing otherwise. */
export interface Progress {
  update(text: string): void;
  stop(): void;
}

/** An ora spinner on stderr when it is a TTY and CI is not set; a no-op otherwise (pipes, CI logs, --json). */
export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr, env: NodeJS.ProcessEnv = process.env): Progress {
  if (!enabled || !stream.isTTY || env.CI !== undefined) return { update: () => {}, stop: () => {} };
  const spinner: Ora = ora({ stream, text: 'starting' }).start();
  return {
    update: (text) => {
      spinner.text = text;
    },
    stop: () => spinner.stop(),
  };
}
