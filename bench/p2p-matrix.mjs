#!/usr/bin/env node
// npm run bench:p2p [-- --runs N] [-- --only PRESET] [-- --cell PRESET,PEER_PRESET ...] [-- --naive-timeout MS]
//   [-- --svg FILE] [-- --json FILE] [-- --no-naive]
// --no-naive skips the naive method (for many runs of natscope alone); --cell (repeatable) picks single cells, e.g. the birthday pairs for many runs; --json writes the rows with every
// run's outcome, for statistics over several bench runs.
// For every pair of lab presets: natscope p2p in both clients at once, N runs, beside the naive method (both sides
// send to the other's server-reflexive address every 100 ms, bench/naive-peer.mjs), measured alternately in one
// lab. Prints the matrix (success rate, median and p95 time to a two-way direct path, counted from the agreed start,
// the slower side of the two) and writes it as an SVG picture. Needs root (the lab); set NATSCOPE_LAB_ID.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { labDown, labUp } from '../dist/api/lab.js';
import { LAB } from '../dist/lab/topology.js';
import { renderSvg } from './p2p-svg.mjs';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const NAIVE = fileURLToPath(new URL('./naive-peer.mjs', import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};
const RUNS = Number(arg('runs', '10'));
const ONLY = arg('only');
const CELLS = process.argv.flatMap((a, i) => (a === '--cell' ? [process.argv[i + 1].split(',')] : []));
const JSON_FILE = arg('json');
const NAIVE_TIMEOUT_MS = Number(arg('naive-timeout', '5000'));
// --naive-only: the naive method alone, against serve stun (for a build without natscope p2p).
const NAIVE_ONLY = process.argv.includes('--naive-only');
const NO_NAIVE = process.argv.includes('--no-naive');
if (NAIVE_ONLY && NO_NAIVE) throw new Error('--naive-only and --no-naive exclude each other');
const SVG_FILE = arg('svg', fileURLToPath(new URL('./p2p-matrix.svg', import.meta.url)));
const PRESETS = ['open-internet', 'firewall-only', 'full-cone', 'restricted-cone', 'port-restricted-cone', 'address-dependent-mapping', 'symmetric', 'symmetric-sequential'];
const SERVER = LAB.serverAddresses[0];
if (!(RUNS >= 1)) throw new Error(`--runs must be at least 1, not ${RUNS}`);

const quantile = (xs, q) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};
const mode = (xs) => {
  const counts = new Map();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
};

/** Runs a command in a namespace; resolves with its stdout. */
function runIn(ns, argv, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts the rendezvous server (and its STUN server) in the public host. */
function startRendezvous() {
  return new Promise((resolve, reject) => {
    const server = NAIVE_ONLY ? ['stun'] : ['rendezvous'];
    const child = spawn('ip', ['netns', 'exec', LAB.public, process.execPath, CLI, 'serve', ...server, '--address', SERVER, '--alt-address', LAB.serverAddresses[1]], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (d) => {
      output += d;
      if (/listening on/.test(output)) resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve rendezvous exited with ${code}: ${output}`)));
    setTimeout(() => reject(new Error(`serve rendezvous not ready after 10 s: ${output}`)), 10_000).unref();
  });
}

/** One natscope p2p run: both clients at once. */
async function p2pRun(room, flags = []) {
  const argv = [process.execPath, CLI, 'p2p', SERVER, '--room', room, '--json', '--wait', '30', ...flags];
  const runs = await Promise.all(LAB.client.map((ns) => runIn(ns, argv, 90_000)));
  const reports = runs.map((r) => {
    try {
      return JSON.parse(r.stdout);
    } catch {
      return { direct: false, predicted: 'unknown', predictionHeld: null, technique: null, timeToDirectMs: null, error: `no JSON (exit ${r.code}): ${r.stderr.slice(0, 200)}` };
    }
  });
  const direct = reports.every((r) => r.direct === true);
  return {
    direct,
    ms: direct ? Math.max(...reports.map((r) => r.timeToDirectMs ?? Number.NaN)) : null,
    // Both sides must name the same technique; a run where they differ is shown as "a/b", never hidden.
    technique: direct ? (reports[0].technique === reports[1].technique ? reports[0].technique : `${reports[0].technique}/${reports[1].technique}`) : null,
    predicted: reports[0].predicted,
    held: reports.every((r) => r.predictionHeld === true),
    probes: reports.reduce((sum, r) => sum + (r.probesSent ?? 0), 0),
    reports,
  };
}

/** One naive run: both peers learn their server-reflexive address, the bench swaps them, both start at once. */
async function naiveRun(token) {
  const peers = LAB.client.map((ns) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, NAIVE, '--stun', `${SERVER}:3478`, '--token', token, '--timeout', String(NAIVE_TIMEOUT_MS)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const next = () => new Promise((resolve) => lines.once('line', resolve));
    const exited = new Promise((resolve) => child.on('close', resolve));
    return { child, next, exited };
  });
  const srflx = await Promise.all(peers.map((p) => p.next()));
  if (!srflx.every((line) => line.startsWith('SRFLX '))) {
    peers.forEach((p) => p.child.kill());
    return { direct: false, ms: null };
  }
  const startAt = Date.now() + 300;
  peers.forEach((p, i) => p.child.stdin.write(`GO ${srflx[1 - i].slice(6)} ${startAt}\n`));
  const results = await Promise.all(peers.map((p) => p.next()));
  peers.forEach((p) => p.child.stdin.end());
  await Promise.all(peers.map((p) => p.exited));
  const direct = results.every((line) => line.startsWith('DIRECT '));
  return { direct, ms: direct ? Math.max(...results.map((line) => Number(line.split(' ')[1]))) : null };
}

const pairs = [];
for (let i = 0; i < PRESETS.length; i += 1) for (let j = i; j < PRESETS.length; j += 1) pairs.push([PRESETS[i], PRESETS[j]]);
for (const [a, b] of CELLS) if (!PRESETS.includes(a) || !PRESETS.includes(b)) throw new Error(`--cell ${a},${b}: presets are ${PRESETS.join(', ')}`);
const selected = pairs.filter(
  ([a, b]) => (ONLY === undefined || a === ONLY || b === ONLY) && (CELLS.length === 0 || CELLS.some(([x, y]) => (x === a && y === b) || (x === b && y === a))),
);
const benchStarted = performance.now();
const rows = [];
for (const [preset, peerPreset] of selected) {
  labUp({ preset, peerPreset });
  const rendezvous = await startRendezvous();
  const p2p = [];
  const naive = [];
  for (let run = 0; run < RUNS; run += 1) {
    if (!NAIVE_ONLY) p2p.push(await p2pRun(`bench-${process.pid}-${preset}-${peerPreset}-${run}`));
    if (!NO_NAIVE) naive.push(await naiveRun(`${process.pid}-${run}`));
  }
  rendezvous.kill();
  const directMs = p2p.filter((r) => r.direct).map((r) => r.ms);
  const naiveMs = naive.filter((r) => r.direct).map((r) => r.ms);
  const row = {
    preset,
    peerPreset,
    predicted: mode(p2p.map((r) => r.predicted)),
    technique: mode(p2p.filter((r) => r.direct).map((r) => r.technique)),
    held: p2p.filter((r) => r.held).length,
    success: directMs.length,
    medianMs: quantile(directMs, 0.5),
    p95Ms: quantile(directMs, 0.95),
    probes: quantile(p2p.map((r) => r.probes), 0.5),
    naiveSuccess: naiveMs.length,
    naiveMedianMs: quantile(naiveMs, 0.5),
    naiveP95Ms: quantile(naiveMs, 0.95),
    runs: p2p.map((r) => ({ direct: r.direct, ms: r.ms, technique: r.technique, predicted: r.predicted, held: r.held, probes: r.probes })),
    naiveRuns: naive.map((r) => ({ direct: r.direct, ms: r.ms })),
    failures: p2p.filter((r) => !r.held).map((r) => r.reports.map((x) => ({ direct: x.direct, predicted: x.predicted, technique: x.technique, reason: x.reason, error: x.error }))),
  };
  rows.push(row);
  console.error(`done ${preset} × ${peerPreset}: p2p ${row.success}/${RUNS} (${row.technique ?? row.predicted}), naive ${NO_NAIVE ? 'not run' : `${row.naiveSuccess}/${RUNS}`}, prediction held ${row.held}/${RUNS}`);
  for (const failure of row.failures.slice(0, 2)) console.error(`  prediction failed: ${JSON.stringify(failure)}`);
}
labDown();
const totalS = (performance.now() - benchStarted) / 1000;

const ms = (x) => (x === null ? '—' : x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
console.log(`natscope p2p beside the naive method, ${RUNS} run(s) per cell, ${selected.length} cells in ${totalS.toFixed(0)} s`);
console.log('time to a two-way direct path from the agreed start (the slower side); success = both sides direct\n');
console.log('| client1 NAT | client2 NAT | predicted | technique | prediction held | success | median | p95 | probes (median) | naive success | naive median | naive p95 |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.preset} | ${r.peerPreset} | ${r.predicted} | ${r.technique ?? '—'} | ${r.held}/${RUNS} | ${r.success}/${RUNS} | ${ms(r.medianMs)} | ${ms(r.p95Ms)} | ${r.probes ?? '—'} | ${NO_NAIVE ? '—' : `${r.naiveSuccess}/${RUNS}`} | ${ms(r.naiveMedianMs)} | ${ms(r.naiveP95Ms)} |`,
  );
}
if (JSON_FILE !== undefined) {
  writeFileSync(JSON_FILE, JSON.stringify({ runs: RUNS, seconds: Math.round(totalS), node: process.version, date: new Date().toISOString(), rows }, null, 1));
  console.log(`\nwrote ${JSON_FILE}`);
}
if (selected.length === pairs.length) {
  writeFileSync(SVG_FILE, renderSvg(rows, { presets: PRESETS, runs: RUNS }));
  console.log(`\nwrote ${SVG_FILE}`);
}
