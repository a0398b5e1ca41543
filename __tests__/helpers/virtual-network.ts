import { transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import type { Clock, UdpNetwork, UdpSocket } from '../../src/probe/ports.js';
import { seededRandom } from './seeded-random.js';

type Behaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

/** A simulated NAT (RFC 4787 behaviours) in front of some inside hosts. */
export interface SimulatedNatConfig {
  readonly publicIp: string;
  readonly insideIps: readonly string[];
  readonly mapping: Behaviour;
  readonly filtering: Behaviour;
  readonly portAllocation?: 'preserve' | 'sequential' | 'random';
  /** Idle time after which a mapping expires; inbound traffic that passes the filter refreshes it too. */
  readonly mappingTimeoutMs?: number;
  readonly hairpinning?: boolean;
  /** Probability that a packet crossing the NAT (either way) is dropped. */
  readonly loss?: number;
  /** Drop all UDP crossing the NAT. */
  readonly blockUdp?: boolean;
}

interface Mapping {
  readonly internal: TransportAddress;
  readonly externalPort: number;
  /** The destination key the mapping was made for (by mapping behaviour). */
  readonly destinationKey: string;
  /** Endpoints that the inside sent to (for filtering). */
  readonly permitted: Set<string>;
  lastActiveMs: number;
}

const key = (a: TransportAddress): string => `${a.address}|${a.port}`;

/** An in-memory IPv4 network on a fake clock: hosts, sockets, a one-hop latency, and an optional NAT. */
export class VirtualNetwork {
  private readonly sockets = new Map<string, (bytes: Uint8Array, from: TransportAddress) => void>();
  private readonly mappings: Mapping[] = [];
  private nextEphemeral = 40000;
  private nextExternal = 20000;
  /** Counts of packets dropped by the NAT by reason. */
  readonly drops = new Map<string, number>();
  /** Peak number of live mappings at once. */
  peakMappings = 0;
  /** Loss and random port draws (seeded: a run replays exactly). */
  private readonly random: () => number;

  constructor(
    private readonly clock: Clock,
    private readonly nat?: SimulatedNatConfig,
    private readonly latencyMs = 1,
    seed = 42,
  ) {
    this.random = seededRandom(seed);
  }

  /** The UdpNetwork as seen from the host with IP `ip`. */
  host(ip: string): UdpNetwork {
    return {
      bind: async (_family, address, port) => this.bind(address ?? ip, port ?? this.nextEphemeral++, ip),
      localAddresses: () => [ip],
    };
  }

  private bind(address: string, port: number, hostIp: string): UdpSocket {
    const local = transportAddress(address === '0.0.0.0' ? hostIp : address, port);
    const id = key(local);
    if (this.sockets.has(id)) throw new Error(`address in use: ${id}`);
    let receiver: (bytes: Uint8Array, from: TransportAddress) => void = () => {};
    this.sockets.set(id, (bytes, from) => receiver(bytes, from));
    let closed = false;
    return {
      local: transportAddress('0.0.0.0', port),
      send: (bytes, to) => {
        if (!closed) this.route(Uint8Array.from(bytes), local, to);
      },
      onDatagram: (r) => {
        receiver = r;
      },
      close: () => {
        closed = true;
        this.sockets.delete(id);
      },
    };
  }

  private drop(reason: string): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  private route(bytes: Uint8Array, from: TransportAddress, to: TransportAddress): void {
    const nat = this.nat;
    const inside = (ip: string): boolean => nat?.insideIps.includes(ip) ?? false;
    let source = from;
    let destination = to;
    if (nat !== undefined && inside(from.address) && !inside(to.address)) {
      if (nat.blockUdp === true) return this.drop('blocked');
      if (this.random() < (nat.loss ?? 0)) return this.drop('loss');
      const mapping = this.outbound(nat, from, to);
      source = transportAddress(nat.publicIp, mapping.externalPort);
      if (to.address === nat.publicIp) {
        // A packet to our own public address: hairpin it, or drop it.
        if (nat.hairpinning !== true) return this.drop('no-hairpin');
        const target = this.inbound(nat, source, to);
        if (target === undefined) return this.drop('filtered');
        destination = target;
      }
    } else if (nat !== undefined && to.address === nat.publicIp) {
      if (nat.blockUdp === true) return this.drop('blocked');
      if (this.random() < (nat.loss ?? 0)) return this.drop('loss');
      const target = this.inbound(nat, from, to);
      if (target === undefined) return this.drop('filtered');
      destination = target;
    }
    const deliverTo = this.sockets.get(key(destination));
    const arrivedFrom = source;
    this.clock.setTimer(this.latencyMs, () => {
      const receiver = this.sockets.get(key(destination));
      if (receiver !== undefined && receiver === deliverTo) receiver(bytes, arrivedFrom);
    });
  }

  private live(nat: SimulatedNatConfig): Mapping[] {
    const now = this.clock.nowMs();
    const timeout = nat.mappingTimeoutMs ?? Infinity;
    for (let i = this.mappings.length - 1; i >= 0; i -= 1) {
      if (now - (this.mappings[i]?.lastActiveMs ?? 0) >= timeout) this.mappings.splice(i, 1);
    }
    return this.mappings;
  }

  private outbound(nat: SimulatedNatConfig, from: TransportAddress, to: TransportAddress): Mapping {
    const destinationKey =
      nat.mapping === 'endpoint-independent' ? '*' : nat.mapping === 'address-dependent' ? to.address : key(to);
    const mappings = this.live(nat);
    let mapping = mappings.find((m) => key(m.internal) === key(from) && m.destinationKey === destinationKey);
    if (mapping === undefined) {
      const used = new Set(mappings.map((m) => m.externalPort));
      let port: number;
      if ((nat.portAllocation ?? 'sequential') === 'preserve' && !used.has(from.port)) port = from.port;
      else if (nat.portAllocation === 'random') do port = 1024 + Math.floor(this.random() * 64000); while (used.has(port));
      else do port = this.nextExternal++; while (used.has(port));
      mapping = { internal: from, externalPort: port, destinationKey, permitted: new Set(), lastActiveMs: 0 };
      mappings.push(mapping);
      this.peakMappings = Math.max(this.peakMappings, mappings.length);
    }
    mapping.lastActiveMs = this.clock.nowMs();
    mapping.permitted.add(nat.filtering === 'address-dependent' ? to.address : key(to));
    return mapping;
  }

  private inbound(nat: SimulatedNatConfig, from: TransportAddress, to: TransportAddress): TransportAddress | undefined {
    const mapping = this.live(nat).find((m) => m.externalPort === to.port);
    if (mapping === undefined) return undefined;
    const allowed =
      nat.filtering === 'endpoint-independent' ||
      mapping.permitted.has(nat.filtering === 'address-dependent' ? from.address : key(from));
    if (!allowed) return undefined;
    mapping.lastActiveMs = this.clock.nowMs();
    return mapping.internal;
  }
}
