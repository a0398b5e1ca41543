// The entry of a `natscope serve stun` cluster worker: no CLI parser, no terminal UI, only the server.
import { ExitError } from './exit-codes.js';
import { runStunWorker, STUN_WORKER_OPTIONS_ENV, type ServeStunOptions } from './commands/serve-stun.js';

const options = JSON.parse(process.env[STUN_WORKER_OPTIONS_ENV] ?? 'null') as ServeStunOptions | null;
if (options === null) {
  process.stderr.write(`natscope stun worker: started without ${STUN_WORKER_OPTIONS_ENV}; it is run by natscope serve stun --workers N\n`);
  process.exitCode = 2;
} else {
  try {
    await runStunWorker(options, {
      stderr: (text) => process.stderr.write(`${text}\n`),
      untilStopped: () =>
        new Promise((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        }),
    });
  } catch (error) {
    process.exitCode = error instanceof ExitError ? error.exitCode : 70;
    if (!(error instanceof ExitError)) process.stderr.write(`natscope stun worker: internal error: ${(error as Error).stack}\n`);
  }
  // The IPC channel to the primary would keep this process alive.
  process.disconnect?.();
}
