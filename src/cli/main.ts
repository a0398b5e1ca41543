#!/usr/bin/env node
import { hideBin } from 'yargs/helpers';
import { runCli } from './run-cli.js';

const untilStopped = (): Promise<void> =>
  new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

process.exitCode = await runCli(hideBin(process.argv), {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  untilStopped,
});
