import { existsSync } from 'node:fs';
import { LabError } from '../errors.js';
import { carrierNatCommands, CARRIER_NAT } from '../lab/double-nat.js';
import { mappableWanCommands, MAPPABLE_WAN, miniupnpdArgv, miniupnpdConfig, miniupnpdReady, portmapPaths, portmapSetupCommands } from '../lab/portmap.js';
import { LAB, LAB_ID, natRuleset, type LabOptions } from '../lab/topology.js';
import { startLabDaemon, stopLabDaemon } from '../platform/lab-daemon.js';
import { runLabCommands } from '../platform/lab-runner.js';
import { writeFileSync, mkdirSync } from 'node:fs';

/**
 * The gateway additions to a built lab: a carrier-grade NAT above NAT 1 (--carrier-nat) and/or miniupnpd on
 * NAT 1 (--portmap). Returns NAT 1's new public address when it changed. Linux and root only.
 */
export function buildGatewayLab(options: LabOptions): string | undefined {
  const portmap = options.portmap ?? [];
  if (portmap.length === 0 && options.carrierNat !== true) return undefined;
  if (options.preset.family !== 4 || options.preset.truth.nat !== true) {
    throw new LabError(`--portmap and --carrier-nat need an IPv4 NAT preset, not ${options.preset.name}`);
  }
  // Moving NAT 1's WAN is safe only when its rules do not name the old address (masquerade presets).
  if (natRuleset(options, 0).includes(LAB.natWan[0])) {
    throw new LabError(`--portmap and --carrier-nat need a masquerading preset (port-restricted-cone, symmetric, address-dependent-mapping…), not ${options.preset.name}, whose rules name ${LAB.natWan[0]}`);
  }
  let natPublicAddress: string | undefined;
  if (options.carrierNat === true) {
    runLabCommands(carrierNatCommands(LAB_ID, { publicNs: LAB.public, natNs: LAB.nat[0], publicWan: LAB.natWan[0], bridgePort: `${LAB_ID}p0` }));
    natPublicAddress = LAB.natWan[0]; // the carrier's address; router 1 holds CARRIER_NAT.routerWan
  } else if (portmap.length > 0) {
    runLabCommands(mappableWanCommands(LAB.nat[0], LAB.public, LAB.natWan[0]));
    natPublicAddress = MAPPABLE_WAN.router;
  }
  if (portmap.length > 0) {
    if (!existsSync('/usr/sbin/miniupnpd')) throw new LabError('--portmap needs miniupnpd: apt-get install miniupnpd-nftables');
    const paths = portmapPaths(LAB_ID);
    mkdirSync(paths.dir, { recursive: true });
    writeFileSync(paths.config, miniupnpdConfig(portmap, LAB.lanPrefix[0], paths));
    runLabCommands(portmapSetupCommands(LAB.nat[0], portmap));
    startLabDaemon(miniupnpdArgv(LAB.nat[0], paths), { dir: paths.dir, log: paths.log, pidFile: `${paths.dir}/natscope-daemon.pid` }, (log) => miniupnpdReady(log, portmap));
  }
  return natPublicAddress;
}

/** Stops this lab's miniupnpd by the PID recorded when it started; nothing when none runs. */
export function stopGatewayLab(): void {
  stopLabDaemon(`${portmapPaths(LAB_ID).dir}/natscope-daemon.pid`);
}

export { CARRIER_NAT, MAPPABLE_WAN };
