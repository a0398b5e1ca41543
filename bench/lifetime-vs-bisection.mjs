#!/usr/bin/env node
// Time to find a NAT hole's idle lifetime L: natscope's many-socket search beside a plain bisection with one
// socket at a time, both against the same simulated NAT (20 ms one way), side by side in one run.
import { simulateDoublingThenBisection, simulateLifetimeSearch, simulatePlainBisection } from '../dist/bench/simulate-lifetime-search.js';

const lifetimes = [5, 15, 30, 60, 120, 180, 300, 450, 590];
console.log('| L (s) | natscope time (s) | bracket (s) | peak mappings | bisection of [0, 600 s] (s) | doubling + bisection (s) | ÷ natscope (bisection, doubling) |');
console.log('|---|---|---|---|---|---|---|');
const ratios = [];
for (const seconds of lifetimes) {
  const L = seconds * 1000;
  const ours = simulateLifetimeSearch(L, { maxLifetimeMs: 600_000 });
  const theirs = simulatePlainBisection(L, 600_000);
  const doubling = simulateDoublingThenBisection(L, 600_000);
  const ratio = theirs.elapsedMs / ours.elapsedMs;
  const ratio2 = doubling.elapsedMs / ours.elapsedMs;
  ratios.push(ratio2);
  const f = (ms) => (ms / 1000).toFixed(1);
  console.log(`| ${seconds} | ${f(ours.elapsedMs)} | ${f(ours.lowerMs)}–${f(ours.upperMs)} | ${ours.peakNatMappings} | ${f(theirs.elapsedMs)} | ${f(doubling.elapsedMs)} | ${ratio.toFixed(1)}×, ${ratio2.toFixed(1)}× |`);
}
ratios.sort((a, b) => a - b);
console.log(`\nmedian ratio, doubling + bisection ÷ natscope: ${ratios[Math.floor(ratios.length / 2)].toFixed(1)}×`);
