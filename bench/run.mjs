#!/usr/bin/env node
// npm run bench: the lifetime search beside bisection (no root needed), then, as root, classify beside coturn in the lab.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (name) => fileURLToPath(new URL(name, import.meta.url));
spawnSync(process.execPath, [here('./lifetime-vs-bisection.mjs')], { stdio: 'inherit' });
if (process.getuid?.() === 0) {
  console.log('');
  spawnSync(process.execPath, [here('./classify-vs-coturn.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
} else {
  console.log('\n(classify beside coturn needs the lab: run npm run bench as root)');
}
