/** natscope's exit codes (documented in the README). */
export const ExitCode = {
  /** Conclusive, and every --expect met. */
  OK: 0,
  /** An --expect was not met. */
  EXPECTATION_FAILED: 1,
  /** Bad flags or arguments. */
  USAGE: 2,
  /** A needed verdict is unknown, or no server could be resolved or reached for a verdict. */
  INCONCLUSIVE: 3,
  /** The system refused: a socket could not be bound, the lab could not be built, not root. */
  SYSTEM: 4,
  /** A bug in natscope. */
  INTERNAL: 70,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by commands to end with a code; the entry point is the only place that exits. */
export class ExitError extends Error {
  constructor(
    readonly exitCode: ExitCodeValue,
    message: string,
  ) {
    super(message);
    this.name = 'ExitError';
  }
}
