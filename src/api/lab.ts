import { spawn } from 'node:child_process';
import { LabError } from '../errors.js';
import { findPreset, LAB_PRESETS } from '../lab/presets.js';
import { LAB, setupCommands, teardownCommands, type LabOptions } from '../lab/topology.js';
import { checkLabPrerequisites, listNamespaces, runLabCommands } from '../platform/lab-runner.js';
import { buildGatewayLab, stopGatewayLab } from './gateway-lab.js';

/** The lab's hosts, as `lab exec` names them. */
export const LAB_HOSTS: Readonly<Record<string, string>> = {
  public: LAB.public,
  nat1: LAB.nat[0],
  nat2: LAB.nat[1],
  client1: LAB.client[0],
  client2: LAB.client[1],
};

/** Options of `labUp`, with the preset by name. */
export interface LabUpOptions extends Omit<LabOptions, 'preset'> {
  readonly preset: string;
}

/** What `labUp` built. */
export interface LabDescription {
  readonly preset: string;
  /** Where servers go, in the preset's IP version. */
  readonly servers: readonly string[];
  readonly natPublicAddresses: readonly string[];
  readonly clients: readonly string[];
  readonly family: 4 | 6;
  readonly hosts: Readonly<Record<string, string>>;
}

/** Builds the lab (tearing down any leftovers first). Linux and root only. */
export function labUp(options: LabUpOptions): LabDescription {
  const preset = findPreset(options.preset);
  if (preset === undefined) {
    throw new LabError(`no lab preset "${options.preset}"; presets: ${LAB_PRESETS.map((p) => p.name).join(', ')}`);
  }
  if (options.hairpin === true && (!preset.preservesPorts || preset.truth.nat !== true || preset.family !== 4)) {
    throw new LabError(`--hairpin needs an IPv4 NAT preset that preserves ports (full-cone, restricted-cone, port-restricted-cone), not ${preset.name}`);
  }
  if (options.lossPercent !== undefined && !(options.lossPercent >= 0 && options.lossPercent < 100)) {
    throw new LabError(`loss must be 0-99 %, not ${options.lossPercent}`);
  }
  checkLabPrerequisites();
  stopGatewayLab();
  runLabCommands(teardownCommands());
  let natPublicAddress: string | undefined;
  try {
    runLabCommands(setupCommands({ ...options, preset }));
    natPublicAddress = buildGatewayLab({ ...options, preset });
  } catch (error) {
    stopGatewayLab();
    runLabCommands(teardownCommands());
    throw error;
  }
  const lab = describeLab(preset.name, preset.family);
  return natPublicAddress === undefined ? lab : { ...lab, natPublicAddresses: [natPublicAddress, ...lab.natPublicAddresses.slice(1)] };
}

/** Removes every lab namespace; safe to call when there is no lab. */
export function labDown(): void {
  checkLabPrerequisites();
  stopGatewayLab();
  runLabCommands(teardownCommands());
}

/** True when the lab's namespaces exist. */
export function labIsUp(): boolean {
  const existing = new Set(listNamespaces());
  return Object.values(LAB_HOSTS).every((ns) => existing.has(ns));
}

/** Runs a program in a lab host, with inherited stdio; resolves with its exit code. */
export function labExec(host: string, argv: readonly string[]): Promise<number> {
  const ns = LAB_HOSTS[host];
  if (ns === undefined) throw new LabError(`no lab host "${host}"; hosts: ${Object.keys(LAB_HOSTS).join(', ')}`);
  if (argv.length === 0) throw new LabError('say which command to run after --');
  checkLabPrerequisites();
  if (!labIsUp()) throw new LabError('the lab is not up: run natscope lab up first');
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'inherit' });
    child.on('error', (cause) => reject(new LabError(`cannot run ${argv.join(' ')} in ${host}: ${cause.message}`, { cause })));
    child.on('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

function describeLab(preset: string, family: 4 | 6): LabDescription {
  const v6 = family === 6;
  return {
    preset,
    family,
    servers: [...(v6 ? LAB.serverAddresses6 : LAB.serverAddresses)],
    natPublicAddresses: [...(v6 ? LAB.natWan6 : LAB.natWan)],
    clients: [...(v6 ? LAB.clientAddress6 : LAB.clientAddress)],
    hosts: LAB_HOSTS,
  };
}
