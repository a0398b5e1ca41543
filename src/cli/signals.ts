/** The signals that end a run, and the exit code each gives (128 + the signal number, as shells report it). */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/** What the CLI does when a signal comes; main.ts gives the real process. */
export interface SignalTarget {
  on(signal: StopSignal, listener: () => void): unknown;
  exit(code: number): never | void;
}

/** How long a server may take to close after SIGINT/SIGTERM before the process exits anyway. */
export const SERVER_STOP_GRACE_MS = 3000;

/**
 * Ends runs promptly on SIGINT/SIGTERM, whatever the UI is doing. A server waiting in `untilStopped` is asked to
 * close (and exits by itself, 0); anything else — a classify or punch in progress — runs the registered cleanups
 * (stop the spinner, print the JSON error) and exits at once with 130/143: the OS closes its sockets. A second
 * signal, or a server that has not closed within the grace time, exits at once too.
 */
export class SignalHandling {
  readonly #cleanups = new Set<(signal: StopSignal) => void>();
  readonly #stopWaiters = new Set<() => void>();
  #signalled: StopSignal | undefined;

  constructor(
    readonly target: SignalTarget,
    readonly schedule: (callback: () => void, ms: number) => void = (callback, ms) => setTimeout(callback, ms).unref(),
  ) {
    target.on('SIGINT', () => this.receive('SIGINT'));
    target.on('SIGTERM', () => this.receive('SIGTERM'));
  }

  /** Resolves when a stop signal comes (servers wait on it). */
  untilStopped(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#signalled !== undefined) return resolve();
      this.#stopWaiters.add(resolve);
    });
  }

  /** Registers what to do before exiting on a signal; returns a function that unregisters it. */
  onInterrupt(cleanup: (signal: StopSignal) => void): () => void {
    this.#cleanups.add(cleanup);
    return () => this.#cleanups.delete(cleanup);
  }

  /** Handles one signal (public for tests). */
  receive(signal: StopSignal): void {
    const code = SIGNAL_EXIT_CODES[signal];
    if (this.#signalled === undefined && this.#stopWaiters.size > 0) {
      this.#signalled = signal;
      for (const resolve of this.#stopWaiters) resolve();
      this.#stopWaiters.clear();
      this.schedule(() => this.target.exit(code), SERVER_STOP_GRACE_MS);
      return;
    }
    this.#signalled = signal;
    // Last registered first, like `finally` blocks: the spinner stops before the messages are written.
    for (const cleanup of [...this.#cleanups].reverse()) {
      try {
        cleanup(signal);
      } catch {
        // Exiting matters more than a cleanup that failed.
      }
    }
    this.#cleanups.clear();
    this.target.exit(code);
  }
}
