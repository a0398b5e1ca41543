import { spawn } from 'node:child_process';
import { LabError } from '../errors.js';
import { findPreset, LAB_PRESETS, type LabPreset } from '../lab/presets.js';
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

/** Options of `labUp`, with the presets by name. */
export interface LabUpOptions extends Omit<LabOptions, 'preset' | 'peerPreset'> {
  /** The NAT in front of client1 (nat1). */
  readonly preset: string;
  /** The NAT in front of client2 (nat2); default: the same as `preset`. */
  readonly peerPreset?: string;
}

/** One NAT of the lab and the client behind it. */
export interface LabNat {
  /** `lab exec` names: nat1/client1 or nat2/client2. */
  readonly host: string;
  readonly clientHost: string;
  readonly preset: string;
  readonly description: string;
  /** Its public address and its client's address, in the preset's IP version. */
  readonly publicAddress: string;
  readonly client: string;
}

/** What `labUp` built. */
export interface LabDescription {
  /** nat1's preset. */
  readonly preset: string;
  /** nat2's preset (the same as `preset` unless a peer preset was given). */
  readonly peerPreset: string;
  readonly nats: readonly [LabNat, LabNat];
  /** Where servers go, in the preset's IP version. */
  readonly servers: readonly string[];
  readonly natPublicAddresses: readonly string[];
  readonly clients: readonly string[];
  readonly family: 4 | 6;
  readonly hosts: Readonly<Record<string, string>>;
}

/** Builds the lab (tearing down any leftovers first). Linux and root only. */
export function labUp(options: LabUpOptions): LabDescription {
  const preset = presetNamed(options.preset);
  const peerPreset = options.peerPreset === undefined ? preset : presetNamed(options.peerPreset);
  if (peerPreset.family !== preset.family) {
    throw new LabError(`the peer preset ${peerPreset.name} is about IPv${peerPreset.family} and ${preset.name} about IPv${preset.family}: pick two of one IP version`);
  }
  for (const p of new Set([preset, peerPreset])) {
    if (options.hairpin === true && (!p.preservesPorts || p.truth.nat !== true || p.family !== 4)) {
      throw new LabError(`--hairpin needs an IPv4 NAT preset that preserves ports (full-cone, restricted-cone, port-restricted-cone), not ${p.name}`);
    }
  }
  if (options.lossPercent !== undefined && !(options.lossPercent >= 0 && options.lossPercent < 100)) {
    throw new LabError(`loss must be 0-99 %, not ${options.lossPercent}`);
  }
  checkLabPrerequisites();
  stopGatewayLab();
  runLabCommands(teardownCommands());
  let natPublicAddress: string | undefined;
  try {
    runLabCommands(setupCommands({ ...options, preset, peerPreset }));
    natPublicAddress = buildGatewayLab({ ...options, preset, peerPreset });
  } catch (error) {
    stopGatewayLab();
    runLabCommands(teardownCommands());
    throw error;
  }
  const lab = describeLab(preset, peerPreset);
  if (natPublicAddress === undefined) return lab;
  // --portmap or --carrier-nat moved nat1's public address.
  const [nat1, nat2] = lab.nats;
  return { ...lab, nats: [{ ...nat1, publicAddress: natPublicAddress }, nat2], natPublicAddresses: [natPublicAddress, ...lab.natPublicAddresses.slice(1)] };
}

function presetNamed(name: string): LabPreset {
  const preset = findPreset(name);
  if (preset === undefined) throw new LabError(`no lab preset "${name}"; presets: ${LAB_PRESETS.map((p) => p.name).join(', ')}`);
  return preset;
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

/** Describes the lab `labUp` builds for two presets (of one IP version). Pure. */
export function describeLab(preset: LabPreset, peerPreset: LabPreset = preset): LabDescription {
  const { family } = preset;
  const v6 = family === 6;
  const nat = (i: 0 | 1, p: LabPreset): LabNat => ({
    host: `nat${i + 1}`,
    clientHost: `client${i + 1}`,
    preset: p.name,
    description: p.description,
    publicAddress: (v6 ? LAB.natWan6 : LAB.natWan)[i],
    client: (v6 ? LAB.clientAddress6 : LAB.clientAddress)[i],
  });
  return {
    preset: preset.name,
    peerPreset: peerPreset.name,
    nats: [nat(0, preset), nat(1, peerPreset)],
    family,
    servers: [...(v6 ? LAB.serverAddresses6 : LAB.serverAddresses)],
    natPublicAddresses: [...(v6 ? LAB.natWan6 : LAB.natWan)],
    clients: [...(v6 ? LAB.clientAddress6 : LAB.clientAddress)],
    hosts: LAB_HOSTS,
  };
}
