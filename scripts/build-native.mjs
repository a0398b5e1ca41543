// Builds the optional batched UDP addon (native/udp-batch.c -> dist/native/udp-batch.node) with the system C
// compiler against the headers of the Node that runs this script. Node-API addons need no linking against node,
// so one gcc call does what node-gyp would (node-gyp would also try to download headers, and CI has no internet).
// Without gcc or the headers the build goes on without it: the servers then use node:dgram, and say so.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('../native/udp-batch.c', import.meta.url));
const output = fileURLToPath(new URL('../dist/native/udp-batch.node', import.meta.url));
const headers = [join(dirname(dirname(process.execPath)), 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((dir) => existsSync(join(dir, 'node_api.h')));
const required = process.env.NATSCOPE_REQUIRE_NATIVE === '1';
const skip = (why) => {
  rmSync(output, { force: true });
  const line = `build-native: ${why}; serve stun will use node:dgram (slower; see README "Servers")`;
  if (required) {
    console.error(`${line}, but NATSCOPE_REQUIRE_NATIVE=1`);
    process.exit(1);
  }
  console.error(line);
  process.exit(0);
};
if (process.platform !== 'linux') skip(`recvmmsg is Linux only, this is ${process.platform}`);
if (headers === undefined) skip("Node's headers (node_api.h) are not installed");
mkdirSync(dirname(output), { recursive: true });
const cc = process.env.CC ?? 'gcc';
const built = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=udp_batch', `-I${headers}`, '-o', output, source], { encoding: 'utf8' });
if (built.error !== undefined) skip(`${cc} did not run (${built.error.message})`);
if (built.status !== 0) skip(`${cc} failed:\n${built.stderr}`);
