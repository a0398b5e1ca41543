/** What the CLI needs to know about a terminal stream (process.stdout or process.stderr). */
export interface TerminalStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Narrowest terminal a spinner line is drawn in; below it (0 under `script`, unset in some consoles) none is. */
export const MIN_SPINNER_COLUMNS = 20;
/** Text is laid out for at least this many columns, and at most the second. */
export const TEXT_WIDTH_RANGE = [40, 200] as const;
/** The width used when the output is not a terminal or the terminal does not say its width. */
export const DEFAULT_TEXT_WIDTH = 80;

/** True when CI is set to anything but "", "0" or "false" (GitHub, GitLab and most CI systems set CI=true). */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  const value = env.CI;
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/**
 * True when a spinner can be drawn: a TTY that reports a usable width, not CI, not TERM=dumb. ora 9.4.1 loops
 * forever on a width of 0 (it clears Infinity lines), so a width it cannot draw in never gets a spinner.
 */
export function canDrawSpinner(stream: TerminalStream, env: NodeJS.ProcessEnv): boolean {
  const columns = stream.columns;
  return (
    stream.isTTY === true &&
    !isCi(env) &&
    env.TERM !== 'dumb' &&
    typeof columns === 'number' &&
    Number.isInteger(columns) &&
    columns >= MIN_SPINNER_COLUMNS
  );
}

/** The width to lay text out in: the terminal's, else $COLUMNS, else 80; kept within 40–200. */
export function textWidth(stream: TerminalStream, env: NodeJS.ProcessEnv): number {
  const fromEnv = Number(env.COLUMNS);
  const reported = stream.isTTY === true && typeof stream.columns === 'number' && stream.columns > 0 ? stream.columns : undefined;
  const width = reported ?? (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_TEXT_WIDTH);
  return Math.min(TEXT_WIDTH_RANGE[1], Math.max(TEXT_WIDTH_RANGE[0], width));
}
