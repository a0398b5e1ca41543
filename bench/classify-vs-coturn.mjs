#!/usr/bin/env node
// Time to a full verdict (mapping, filtering, hairpinning) in each lab preset: natscope classify beside
// coturn's turnutils_natdiscovery -m -f -H, both against natscope's server, alternating runs in one process.
// Needs root (the lab). Usage: npm run bench [-- RUNS]   (default 5 runs per tool, preset and loss).
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { labDown, labUp } from '../dist/api/lab.js';
import { LAB } from '../dist/lab/topology.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RUNS = Number(process.argv[2] ?? 5);
const PRESETS = ['open-internet', 'firewall-only', 'full-cone', 'restricted-cone', 'port-restricted-cone', 'address-dependent-mapping', 'symmetric'];
const LOSSES = [0, 20];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const timed = (argv) => {
  const started = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', LAB.client[0], ...argv], { encoding: 'utf8', timeout: 120_000 });
  return { ms: performance.now() - started, out: `${r.stdout}${r.stderr}` };
};
const coturnWords = { 'Endpoint Independent': 'EI', 'Address Dependent': 'AD', 'Address and Port Dependent': 'APD' };
const coturnVerdict = (out) => {
  const m = /NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) Mapping/.exec(out);
  const f = /NAT with (Endpoint Independent|Address Dependent|Address and Port Dependent) Filtering/.exec(out);
  return `${m ? coturnWords[m[1]] : '?'}/${f ? coturnWords[f[1]] : '?'}`;
};
const short = { 'endpoint-independent': 'EI', 'address-dependent': 'AD', 'address-and-port-dependent': 'APD', unknown: '?' };

const rows = [];
for (const loss of LOSSES) {
  for (const preset of PRESETS) {
    labUp({ preset, lossPercent: loss });
    const server = spawn('ip', ['netns', 'exec', LAB.public, process.execPath, CLI, 'serve', 'stun', '--address', LAB.serverAddresses[0], '--alt-address', LAB.serverAddresses[1]], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 700));
    const ours = [];
    const theirs = [];
    const oursVerdicts = new Map();
    const theirVerdicts = new Map();
    for (let i = 0; i < RUNS; i += 1) {
      const a = timed([process.execPath, CLI, 'classify', LAB.serverAddresses[0], '--json']);
      ours.push(a.ms);
      let v = '?';
      try {
        const r = JSON.parse(a.out.slice(a.out.indexOf('{')));
        v = `${short[r.mapping]}/${short[r.filtering]}`;
      } catch {}
      oursVerdicts.set(v, (oursVerdicts.get(v) ?? 0) + 1);
      const b = timed(['turnutils_natdiscovery', '-m', '-f', '-H', LAB.serverAddresses[0]]);
      theirs.push(b.ms);
      const w = coturnVerdict(b.out);
      theirVerdicts.set(w, (theirVerdicts.get(w) ?? 0) + 1);
    }
    server.kill();
    const fmt = (m) => [...m].map(([k, n]) => `${k}×${n}`).join(' ');
    rows.push({ preset, loss, natscope: fmt(oursVerdicts), coturn: fmt(theirVerdicts), oursS: median(ours) / 1000, theirsS: median(theirs) / 1000 });
    console.error(`done ${preset} loss ${loss}%`);
  }
}
labDown();
console.log(`| preset | loss | natscope verdict (mapping/filtering × runs) | coturn verdict | natscope median s | coturn median s | coturn ÷ natscope |`);
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.preset} | ${r.loss}% | ${r.natscope} | ${r.coturn} | ${r.oursS.toFixed(2)} | ${r.theirsS.toFixed(2)} | ${(r.theirsS / r.oursS).toFixed(1)}× |`);
}
