import { canDrawSpinner } from './terminal.js';

/** A progress display: an ora spinner on a terminal that can draw it, nothing otherwise. */
export interface Progress {
  update(text: string): void;
  stop(): void;
}

const SILENT: Progress = { update: () => {}, stop: () => {} };

/**
 * An ora spinner on `stream` when it can be drawn there (see canDrawSpinner); a no-op otherwise (pipes, CI logs,
 * --json, a terminal of 0 columns). ora is loaded only then. The spinner stops for good if the terminal is resized
 * to a width it cannot draw in, and `onInterrupt` gets its stop so Ctrl-C leaves a clean line and the cursor shown.
 */
export async function createProgress(
  enabled: boolean,
  stream: NodeJS.WriteStream = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
  onInterrupt: (cleanup: () => void) => () => void = () => () => {},
): Promise<Progress> {
  if (!enabled || !canDrawSpinner(stream, env)) return SILENT;
  const { default: ora } = await import('ora');
  // discardStdin: false leaves the terminal in cooked mode, so Ctrl-C is a real SIGINT for the CLI's handler.
  const spinner = ora({ stream, text: 'starting', discardStdin: false }).start();
  let stopped = false;
  const fit = (text: string): string => {
    const room = (stream.columns ?? 0) - 3;
    return text.length > room ? `${text.slice(0, Math.max(0, room - 1))}…` : text;
  };
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    stream.off('resize', onResize);
    unregister();
    spinner.stop();
  };
  function onResize(): void {
    if (!canDrawSpinner(stream, env)) stop();
  }
  stream.on('resize', onResize);
  const unregister = onInterrupt(stop);
  return {
    update: (text) => {
      if (!stopped) spinner.text = fit(text);
    },
    stop,
  };
}
