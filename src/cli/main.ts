#!/usr/bin/env node
// The entry point. Everything a command needs beyond yargs (sockets, protocol code, ora, cli-table3) is loaded by
// its handler with import(), so `--help` and the first STUN request come quickly (bench/startup.mjs).
import type { RunState } from './context.js';
import { jsonErrorObject, jsonSchemaFor, runCli, wantsJson } from './run-cli.js';
import { SignalHandling } from './signals.js';
import { textWidth } from './terminal.js';

const run: RunState = { exitCode: 0 };
const args = process.argv.slice(2);
const signals = new SignalHandling(process);
signals.onInterrupt((signal) => {
  process.stderr.write(`natscope: interrupted by ${signal}\n`);
});

signals.onInterrupt((signal) => {
  // A run cut short still gives a CI script one JSON object to parse.
  if (wantsJson(args)) {
    const exitCode = signal === 'SIGINT' ? 130 : 143;
    process.stdout.write(`${jsonErrorObject(jsonSchemaFor(args, run), { exitCode, code: 'ERR_INTERRUPTED', message: `interrupted by ${signal}` })}\n`);
  }
});

process.exitCode = await runCli(
  args,
  {
    stdout: (text) => process.stdout.write(`${text}\n`),
    stderr: (text) => process.stderr.write(`${text}\n`),
    untilStopped: () => signals.untilStopped(),
    onInterrupt: (cleanup) => signals.onInterrupt(cleanup),
    textWidth: textWidth(process.stdout, process.env),
    progressStream: process.stderr,
    env: process.env,
  },
  run,
);
