#!/usr/bin/env node
// npm run bench:startup: how long natscope takes to start, beside bare node, medians of alternating runs in one
// process. Two questions (issue 10): `natscope --help`, whole process; and exec → the first STUN request of
// `natscope classify 127.0.0.1:PORT`, timed by a UDP listener on loopback that never answers (the run is then
// stopped by its PID). "unbundled" runs the same CLI from tsc's per-file output (dist/cli/run-cli.js) for comparison.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';

// node bench/startup.mjs [ROUNDS] [LABEL=PATH/TO/main.js ...]: extra CLIs to compare (e.g. an older build).
const rounds = Number(process.argv[2] ?? 15);
const extras = process.argv.slice(3).map((arg) => arg.split('='));
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const unbundled = fileURLToPath(new URL('../dist/cli/run-cli.js', import.meta.url));
// The unbundled CLI: the same runCli, imported file by file as tsc wrote it.
const unbundledMain = `const { runCli } = await import(${JSON.stringify(unbundled)});
process.exitCode = await runCli(process.argv.slice(1), { stdout: (t) => process.stdout.write(t + '\\n'), stderr: (t) => process.stderr.write(t + '\\n'),
  untilStopped: () => new Promise(() => {}), onInterrupt: () => () => {}, textWidth: 80, env: process.env });`;
const variants = {
  'bare node (node -e 0)': [['-e', '0']],
  'natscope (bundled)': [[cli]],
  'natscope (unbundled)': [['--input-type=module', '-e', unbundledMain, '--']],
  ...Object.fromEntries(extras.map(([label, path]) => [label, [[path]]])),
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Wall time of one whole process, ms. */
function timeRun(args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, CI: 'true' } });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${args.join(' ')} exited ${code}`))));
  });
}

/** Exec → first datagram at a silent UDP listener, ms; the run is then ended by its PID. */
async function timeFirstRequest(args) {
  const listener = createSocket('udp4');
  await new Promise((resolve) => listener.bind(0, '127.0.0.1', resolve));
  const { port } = listener.address();
  try {
    return await new Promise((resolve, reject) => {
      const started = performance.now();
      const child = spawn(process.execPath, [...args, 'classify', `127.0.0.1:${port}`, '--json'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: 'true' } });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`no STUN request within 10 s: ${stderr}`));
      }, 10_000);
      listener.once('message', () => {
        const elapsed = performance.now() - started;
        clearTimeout(timer);
        child.once('exit', () => resolve(elapsed));
        child.kill('SIGTERM');
      });
      child.on('error', reject);
    });
  } finally {
    listener.close();
  }
}

const results = {};
for (const name of Object.keys(variants)) results[name] = { help: [], first: [] };
for (let round = 0; round < rounds; round += 1) {
  for (const [name, [args]] of Object.entries(variants)) {
    const bare = name.startsWith('bare');
    results[name].help.push(await timeRun(bare ? args : [...args, '--help']));
    if (!bare) results[name].first.push(await timeFirstRequest(args));
  }
}

const cell = (xs) => (xs.length === 0 ? '—' : `${median(xs).toFixed(0)}`);
const bareHelp = median(results['bare node (node -e 0)'].help);
console.log(`Start-up, medians of ${rounds} alternating runs (node ${process.version}, ${new Date().toISOString()})\n`);
console.log('| program | `--help` (ms) | × bare node | exec → first STUN request of classify (ms) |');
console.log('|---|---|---|---|');
for (const [name, r] of Object.entries(results)) {
  console.log(`| ${name} | ${cell(r.help)} | ${(median(r.help) / bareHelp).toFixed(2)} | ${cell(r.first)} |`);
}
