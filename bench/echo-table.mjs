#!/usr/bin/env node
// npm run bench:echo — the echo server's defences side by side with the server as it was before them (the source
// of src/protocol/echo-server.ts at BASELINE_REV, transpiled on the fly against today's dist/), in one run:
//   1. one forged datagram between two echo servers 5–40 ms apart: echoes in 10 minutes of simulated time;
//   2. 256 source IPs registering as fast as their rate limit allows: does the table fill, does a new client get in;
//   3. cost of one accepted probe request with 100 000 probes pending (median CPU µs per request over batches).
// Usage: node bench/echo-table.mjs [--baseline REV]   (REV default: the last commit before the defences)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { transportAddress } from '../dist/codec/transport-address.js';
import { decodeEchoMessage, encodeEchoMessage } from '../dist/protocol/echo-messages.js';
import { EchoServerProtocol } from '../dist/protocol/echo-server.js';

const BASELINE_REV = process.argv.includes('--baseline') ? process.argv[process.argv.indexOf('--baseline') + 1] : '302e25b';
const root = fileURLToPath(new URL('..', import.meta.url));
const MAIN = { address: 'primary', port: 'primary' };

async function loadBaseline() {
  const source = execFileSync('git', ['show', `${BASELINE_REV}:src/protocol/echo-server.ts`], { cwd: root, encoding: 'utf8' });
  const distUrl = pathToFileURL(join(root, 'dist/')).href;
  const js = ts
    .transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
    .outputText.replaceAll("from '../", `from '${distUrl}`)
    .replaceAll("from './", `from '${distUrl}protocol/`);
  const dir = mkdtempSync(join(tmpdir(), 'natscope-echo-baseline-'));
  const file = join(dir, 'echo-server-baseline.mjs');
  writeFileSync(file, js);
  try {
    return (await import(pathToFileURL(file).href)).EchoServerProtocol;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const lcg = (seed) => () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);

/** 1. Two servers, one forged datagram, 5–40 ms per hop, `durationMs` of simulated time. */
function loop(Server, durationMs = 10 * 60_000) {
  const a = transportAddress('198.51.100.1', 40999);
  const b = transportAddress('203.0.113.1', 41999);
  const servers = new Map([
    [a.address, new Server({ address: a.address, port: a.port, secret: new Uint8Array(32) })],
    [b.address, new Server({ address: b.address, port: b.port, secret: new Uint8Array(32) })],
  ]);
  const random = lcg(3);
  // One datagram in flight at a time in a loop: a queue sorted by arrival is a single slot.
  let inFlight = [{ atMs: 0, to: a, from: b, bytes: new TextEncoder().encode('one forged datagram') }];
  let echoes = 0;
  let lastMinute = 0;
  while (inFlight.length > 0) {
    inFlight.sort((x, y) => x.atMs - y.atMs);
    const next = inFlight.shift();
    if (next.atMs > durationMs) return { echoes, lastMinute, looping: true };
    for (const action of servers.get(next.to.address).handleDatagram(next.atMs, next.bytes, next.from, MAIN)) {
      if (action.type !== 'send') continue;
      echoes += 1;
      if (next.atMs > durationMs - 60_000) lastMinute += 1;
      inFlight.push({ atMs: next.atMs + 5 + (random() % 36), to: action.to, from: next.to, bytes: action.bytes });
    }
  }
  return { echoes, lastMinute, looping: false };
}

/** 2. 256 sources, each at the default limit (burst 1000, then 200/s), for `durationMs`; then a new client. */
function fill(Server, durationMs = 30_000) {
  const server = new Server({ address: '203.0.113.1', port: 9199, secret: new Uint8Array(32) });
  const sources = Array.from({ length: 256 }, (_, i) => `192.0.2.${i}`);
  let token = 0;
  let requests = 0;
  let filledAtMs;
  let requestsToFill;
  const register = (atMs, address, port) => {
    const bytes = encodeEchoMessage({ type: 'register', token: new Uint8Array(new Uint32Array([token++, 0, 0, 1]).buffer) });
    requests += 1;
    const [reply] = server.handleDatagram(atMs, bytes, transportAddress(address, port), MAIN);
    if (requestsToFill === undefined && server.registrationCount >= 100_000) requestsToFill = requests;
    return reply?.type === 'send' ? decodeEchoMessage(reply.bytes)?.type : reply?.reason;
  };
  const started = performance.now();
  for (let t = 0; t <= durationMs && filledAtMs === undefined; t += 100) {
    const perSource = t === 0 ? 1000 : 20;
    for (const address of sources) for (let i = 0; i < perSource; i += 1) register(t, address, 20000 + (i % 40000));
    if (server.registrationCount >= 100_000) filledAtMs = t;
  }
  const endMs = filledAtMs ?? durationMs;
  const held = server.registrationCount;
  const sent = requests;
  const newClient = register(endMs + 1, '198.51.100.77', 50000);
  return { filledAtMs, requests: sent, requestsToFill, held, newClient, cpuS: (performance.now() - started) / 1000 };
}

/** 3. Median µs per accepted probe request with `pending` probes queued (delays up to 15 min, so none leaves). */
function requestCost(Server, isBaseline, pending = 100_000, batches = 9, perBatch = isBaseline ? 30 : 2000) {
  const server = new Server({
    address: '203.0.113.1', port: 9199, secret: new Uint8Array(32), rateLimit: isBaseline ? { packetsPerSecond: 1e9, burst: 1e9 } : 'off',
    maxPendingProbes: 10 * pending, maxProbesPerRegistration: 1e9, maxRegistrationsPerSource: 1e9, maxPendingProbesPerSource: 1e9,
  });
  const client = transportAddress('198.51.100.7', 40000);
  const token = new Uint8Array(16).fill(7);
  const [reply] = server.handleDatagram(0, encodeEchoMessage({ type: 'register', token }), client, MAIN);
  const { cookie } = decodeEchoMessage(reply.bytes);
  const random = lcg(5);
  const request = () => encodeEchoMessage({ type: 'probe-request', token, cookie, via: 'same', delayMs: 60_000 + (random() % 800_000), nonce: new Uint8Array(8).fill(random() & 0xff) });
  if (isBaseline) {
    // Filling it through requests would take minutes (each one re-sorts): put the probes in the queue directly, sorted.
    const probe = request();
    server.pending = Array.from({ length: pending }, (_, i) => ({ atMs: 60_000 + i * 8, via: MAIN, to: client, bytes: probe })).sort((a, b) => a.atMs - b.atMs);
  } else {
    while (server.pendingProbeCount < pending) server.handleDatagram(1, request(), client, MAIN);
  }
  const perRequestUs = [];
  for (let batch = 0; batch < batches; batch += 1) {
    const requests = Array.from({ length: perBatch }, request);
    // CPU time, not wall time: the machine may be shared, and a busy neighbour must not count as our cost.
    const started = process.cpuUsage();
    for (const bytes of requests) server.handleDatagram(2, bytes, client, MAIN);
    const used = process.cpuUsage(started);
    perRequestUs.push((used.user + used.system) / perBatch);
  }
  return median(perRequestUs);
}

const Baseline = await loadBaseline();
console.log(`Echo server before (${BASELINE_REV}) and now, side by side in one run (simulated time, this machine's CPU)\n`);
const loopBefore = loop(Baseline);
const loopNow = loop(EchoServerProtocol);
const fillBefore = fill(Baseline);
const fillNow = fill(EchoServerProtocol);
const costs = { before: [], now: [] };
for (let round = 0; round < 3; round += 1) {
  costs.before.push(requestCost(Baseline, true));
  costs.now.push(requestCost(EchoServerProtocol, false));
}
const before = median(costs.before);
const now = median(costs.now);
const loopText = (r) => `${r.echoes} echoes${r.looping ? `, still looping (${r.lastMinute} in the last minute)` : ', loop ended'}`;
const fillText = (r) => (r.filledAtMs === undefined ? `not full after 30 s (${r.held} held, ${r.requests} requests)` : `full at ${r.filledAtMs / 1000} s (after ${r.requestsToFill} requests)`);
console.log('| | before | now |');
console.log('|---|---|---|');
console.log(`| one forged datagram between two servers, 10 min simulated | ${loopText(loopBefore)} | ${loopText(loopNow)} |`);
console.log(`| 256 sources at their rate limit | ${fillText(fillBefore)} | ${fillText(fillNow)} |`);
console.log(`| a new client's REGISTER then | ${fillBefore.newClient} | ${fillNow.newClient} |`);
console.log(`| CPU µs per accepted probe request at 100 000 pending (median of 3 rounds × 9 batches) | ${before.toFixed(1)} | ${now.toFixed(1)} (${(before / now).toFixed(0)}× less) |`);
