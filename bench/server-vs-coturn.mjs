#!/usr/bin/env node
// npm run bench:server [-- ROUNDS SECONDS]: natscope serve stun (1 worker, and one per core) beside coturn 4.6.1's
// turnserver, on loopback, with one load generator (bench/stun-load.c, compiled here with gcc), in alternating rounds.
// Every server is started here with a known PID and ended by that PID. Bounded: SECONDS per measurement (default 3).
// NATSCOPE_BENCH_BEFORE=path/to/an/older/dist/cli/main.js adds that build as a "before" row (its own flags only).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const BEFORE = process.env.NATSCOPE_BENCH_BEFORE;
const ROUNDS = Number(process.argv[2] ?? 3);
const SECONDS = Number(process.argv[3] ?? 3);
const CRAFTED_SECONDS = 10;
const CORES = availableParallelism();
const TICK_S = 1 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

const generator = join(tmpdir(), `natscope-stun-load-${process.pid}`);
const built = spawnSync('gcc', ['-O2', '-o', generator, fileURLToPath(new URL('./stun-load.c', import.meta.url))], { encoding: 'utf8' });
if (built.status !== 0) throw new Error(`gcc failed: ${built.stderr}`);
process.on('exit', () => rmSync(generator, { force: true }));

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpuTicks = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
};
const rssKb = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
const run = (args) =>
  new Promise((resolve) => {
    const child = spawn(generator, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => resolve(JSON.parse(out.trim().split('\n').at(-1))));
  });

/** Starts a server; resolves with its PIDs (a cluster's primary and workers) and a stop function. */
async function startServer(kind, port, extra = []) {
  let child;
  if (kind === 'coturn') {
    child = spawn('turnserver', ['-c', '/dev/null', '-L', '127.0.0.1', '-L', '127.0.0.2', '-p', String(port), '--alt-listening-port', String(port + 1), '--no-cli', '--no-tls', '--no-dtls', '--simple-log', '--log-file', '/dev/null', '--no-stdout-log'], { stdio: 'ignore' });
  } else if (kind === 'before') {
    child = spawn(process.execPath, [BEFORE, 'serve', 'stun', '--address', '127.0.0.1', '--alt-address', '127.0.0.2', '--port', String(port), '--alt-port', String(port + 1)], { stdio: ['ignore', 'ignore', 'pipe'] });
  } else {
    const workers = kind === 'natscope-1' || kind === 'natscope-1-dgram' ? ['--workers', '1'] : ['--workers', String(CORES)];
    if (kind === 'natscope-1-dgram') workers.push('--io', 'dgram');
    child = spawn(process.execPath, [CLI, 'serve', 'stun', '--address', '127.0.0.1', '--alt-address', '127.0.0.2', '--port', String(port), '--alt-port', String(port + 1), ...workers, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  let log = '';
  child.stderr?.on('data', (d) => (log += d));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (kind === 'coturn' ? (await run(['latency', '127.0.0.9', '127.0.0.1', String(port), '0.2', '20000'])).received > 0 : /listening on/.test(log)) break;
    await sleep(100);
  }
  const pids = () => [child.pid, ...[...log.matchAll(/worker \d+ \(pid (\d+)\) ready/g)].map((m) => Number(m[1]))];
  return {
    pids,
    stop: () =>
      new Promise((resolve) => {
        const alive = () => child.exitCode === null && child.signalCode === null;
        if (!alive()) return resolve();
        child.once('close', resolve);
        child.kill('SIGTERM');
        setTimeout(() => alive() && child.kill('SIGKILL'), 2000).unref();
      }),
  };
}

const sum = (pids, f) => pids.reduce((total, pid) => total + f(pid), 0);

async function throughput(kind) {
  const port = 20000 + Math.floor(Math.random() * 20000) * 2;
  const server = await startServer(kind, port, kind === 'before' ? [] : ['--rate-limit', '0']);
  await sleep(1000);
  const idle = sum(server.pids(), rssKb);
  const before = sum(server.pids(), cpuTicks);
  let loaded = 0;
  const sampler = setInterval(() => (loaded = Math.max(loaded, sum(server.pids(), rssKb))), 250);
  const flood = await run(['flood', '127.0.0.1', '127.0.0.1', String(port), String(SECONDS), '5000000', '64']);
  clearInterval(sampler);
  const cpuS = (sum(server.pids(), cpuTicks) - before) * TICK_S;
  await server.stop();
  return { perSecond: flood.perSecond, cpuUsPerResponse: (cpuS / flood.received) * 1e6, idleMb: idle / 1024, loadedMb: loaded / 1024, generatorCpu: flood.generatorCpuSeconds / flood.seconds };
}

async function crafted(kind) {
  const port = 20000 + Math.floor(Math.random() * 20000) * 2;
  const server = await startServer(kind, port); // natscope's default limits and workers
  await sleep(1000);
  const idle = sum(server.pids(), rssKb);
  // The same legitimate client alone first: the machine's own noise, to tell apart from the crafted load's effect.
  const quiet = await run(['latency', '127.0.0.4', '127.0.0.1', String(port), String(CRAFTED_SECONDS / 2), '10000']);
  const before = sum(server.pids(), cpuTicks);
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, sum(server.pids(), rssKb))), 250);
  const [, legit] = await Promise.all([
    run(['crafted', '127.0.0.3', '127.0.0.1', String(port), String(CRAFTED_SECONDS), '100']),
    run(['latency', '127.0.0.4', '127.0.0.1', String(port), String(CRAFTED_SECONDS), '10000']),
  ]);
  clearInterval(sampler);
  const cpuPercent = (((sum(server.pids(), cpuTicks) - before) * TICK_S) / (CRAFTED_SECONDS + 0.2)) * 100;
  await server.stop();
  return { quietP99Ms: quiet.p99Ms, p50Ms: legit.p50Ms, p99Ms: legit.p99Ms, cpuPercent, memoryRatio: peak / idle, idleMb: idle / 1024, peakMb: peak / 1024 };
}

const KINDS = [...(BEFORE === undefined ? [] : ['before']), 'natscope-1-dgram', 'natscope-1', 'natscope-all', 'coturn'];
const results = Object.fromEntries(KINDS.map((k) => [k, { throughput: [], crafted: [] }]));
for (let round = 0; round < ROUNDS; round += 1) {
  // Alternate the order each round, so a noisy neighbour does not always hit the same server.
  const order = round % 2 === 0 ? KINDS : [...KINDS].reverse();
  for (const kind of order) results[kind].throughput.push(await throughput(kind));
  for (const kind of order.filter((k) => k !== 'natscope-1' && k !== 'natscope-1-dgram')) results[kind].crafted.push(await crafted(kind));
  console.error(`round ${round + 1}/${ROUNDS} done`);
}

const m = (kind, part, field) => median(results[kind][part].map((r) => r[field]));
const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const coturnRate = m('coturn', 'throughput', 'perSecond');
const names = { before: 'natscope before (codec path, 1 process)', 'natscope-1-dgram': 'natscope, 1 worker, --io dgram', 'natscope-1': 'natscope, 1 worker (batched I/O)', 'natscope-all': `natscope, ${CORES} workers (batched I/O)`, coturn: 'coturn 4.6.1' };
console.log(`\nnatscope serve stun beside coturn turnserver on loopback: medians of ${ROUNDS} alternating rounds, ${SECONDS} s floods (64 in flight), ${CRAFTED_SECONDS} s crafted runs; ${CORES} cores\n`);
console.log('| | responses/s | × coturn | CPU µs per response | RSS idle / loaded MB | generator CPU |');
console.log('|---|---|---|---|---|---|');
for (const kind of KINDS) {
  console.log(`| ${names[kind]} | ${fmt(m(kind, 'throughput', 'perSecond'))} | ${fmt(m(kind, 'throughput', 'perSecond') / coturnRate, 2)} | ${fmt(m(kind, 'throughput', 'cpuUsPerResponse'), 1)} | ${fmt(m(kind, 'throughput', 'idleMb'), 0)} / ${fmt(m(kind, 'throughput', 'loadedMb'), 0)} | ${fmt(m(kind, 'throughput', 'generatorCpu') * 100)}% |`);
}
console.log('\n100 crafted packets/s from one IP (6 shapes: 350 attributes, 1472 bytes, 1448-byte PADDING, bad lengths, garbage addresses, 300 unknown required attributes) while a legitimate client sends one request every 10 ms:\n');
console.log('| | legit p99 ms, no crafted load | legit p50 ms | legit p99 ms | server CPU | memory peak / idle |');
console.log('|---|---|---|---|---|---|');
for (const kind of KINDS.filter((k) => k !== 'natscope-1' && k !== 'natscope-1-dgram')) {
  console.log(`| ${kind !== 'natscope-all' ? names[kind] : `natscope, defaults (${CORES} workers, rate limit on)`} | ${fmt(m(kind, 'crafted', 'quietP99Ms'), 2)} | ${fmt(m(kind, 'crafted', 'p50Ms'), 2)} | ${fmt(m(kind, 'crafted', 'p99Ms'), 2)} | ${fmt(m(kind, 'crafted', 'cpuPercent'), 1)}% | ${fmt(m(kind, 'crafted', 'peakMb'), 0)} / ${fmt(m(kind, 'crafted', 'idleMb'), 0)} MB (${fmt(m(kind, 'crafted', 'memoryRatio'), 2)}×) |`);
}
