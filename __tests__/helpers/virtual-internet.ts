import { transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import type { Clock, UdpNetwork, UdpSocket } from '../../src/probe/ports.js';
import { seededRandom } from './seeded-random.js';

type Behaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

/** One simulated NAT (RFC 4787 behaviours) on the virtual internet. */
export interface InternetNatConfig {
  readonly publicIp: string;
  readonly insideIps: readonly string[];
  readonly mapping: Behaviour;
  readonly filtering: Behaviour;
  /** "sequential" steps by `stride` (default 1); "random" picks from `randomPorts` (default 1024-65535). */
  readonly portAllocation: 'preserve' | 'sequential' | 'random';
  readonly randomPorts?: { readonly low: number; readonly high: number };
  readonly stride?: number;
  readonly firstPort?: number;
  /** Probability that a packet crossing this NAT (either way) is dropped. */
  readonly loss?: number;
}

interface Mapping {
  readonly internal: TransportAddress;
  readonly externalPort: number;
  readonly destinationKey: string;
  readonly permitted: Set<string>;
}

interface Nat {
  readonly config: InternetNatConfig;
  readonly mappings: Mapping[];
  nextPort: number;
}

const key = (a: { address: string; port: number }): string => `${a.address}|${a.port}`;

/**
 * An in-memory IPv4 internet on a fake clock with any number of NATs: a packet from inside a NAT leaves
 * through it (a mapping by its mapping behaviour), and a packet to a NAT's public IP enters through it
 * (its filtering behaviour). Hosts outside every NAT are public. One-way latency is fixed.
 */
export class VirtualInternet {
  private readonly sockets = new Map<string, (bytes: Uint8Array, from: TransportAddress) => void>();
  private readonly nats: Nat[] = [];
  private nextEphemeral = 40000;
  /** Packets dropped, by reason. */
  readonly drops = new Map<string, number>();
  /** Every datagram delivered, by destination "ip|port" (after translation). */
  delivered = 0;
  /** Loss and random port draws (seeded: a run replays exactly). */
  private readonly random: () => number;

  constructor(
    private readonly clock: Clock,
    private readonly latencyMs = 10,
    seed = 7,
  ) {
    this.random = seededRandom(seed);
  }

  addNat(config: InternetNatConfig): this {
    this.nats.push({ config, mappings: [], nextPort: config.firstPort ?? 20000 });
    return this;
  }

  /** The UdpNetwork as seen from the host with IP `ip`. */
  host(ip: string): UdpNetwork {
    return {
      bind: async (_family, address, port) => this.bind(address ?? ip, port ?? this.nextEphemeral++, ip),
      localAddresses: () => [ip],
      routeSourceAddress: async () => ip,
    };
  }

  /** Sends a raw datagram as if from `from` (a spoofer on the public internet). */
  inject(bytes: Uint8Array, from: TransportAddress, to: TransportAddress): void {
    this.route(bytes, from, to);
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
    let source = from;
    const outNat = this.nats.find((n) => n.config.insideIps.includes(from.address));
    if (outNat !== undefined && !outNat.config.insideIps.includes(to.address)) {
      if (this.random() < (outNat.config.loss ?? 0)) return this.drop('loss-out');
      source = transportAddress(outNat.config.publicIp, this.outbound(outNat, from, to).externalPort);
    }
    let destination = to;
    const inNat = this.nats.find((n) => n.config.publicIp === to.address);
    if (inNat !== undefined) {
      if (this.random() < (inNat.config.loss ?? 0)) return this.drop('loss-in');
      const target = this.inbound(inNat, source, to);
      if (target === undefined) return this.drop('filtered');
      destination = target;
    }
    const arrivedFrom = source;
    this.clock.setTimer(this.latencyMs, () => {
      const receiver = this.sockets.get(key(destination));
      if (receiver === undefined) return this.drop('no-socket');
      this.delivered += 1;
      receiver(bytes, arrivedFrom);
    });
  }

  private outbound(nat: Nat, from: TransportAddress, to: TransportAddress): Mapping {
    const c = nat.config;
    const destinationKey = c.mapping === 'endpoint-independent' ? '*' : c.mapping === 'address-dependent' ? to.address : key(to);
    let mapping = nat.mappings.find((m) => key(m.internal) === key(from) && m.destinationKey === destinationKey);
    if (mapping === undefined) {
      const used = new Set(nat.mappings.map((m) => m.externalPort));
      let port: number;
      if (c.portAllocation === 'preserve' && !used.has(from.port)) port = from.port;
      else if (c.portAllocation === 'random') {
        const { low, high } = c.randomPorts ?? { low: 1024, high: 65535 };
        do port = low + Math.floor(this.random() * (high - low + 1));
        while (used.has(port));
      } else {
        do {
          port = nat.nextPort;
          nat.nextPort += c.stride ?? 1;
        } while (used.has(port));
      }
      mapping = { internal: from, externalPort: port, destinationKey, permitted: new Set() };
      nat.mappings.push(mapping);
    }
    mapping.permitted.add(c.filtering === 'address-dependent' ? to.address : key(to));
    return mapping;
  }

  private inbound(nat: Nat, from: TransportAddress, to: TransportAddress): TransportAddress | undefined {
    const mapping = nat.mappings.find((m) => m.externalPort === to.port);
    if (mapping === undefined) return undefined;
    const c = nat.config;
    const allowed = c.filtering === 'endpoint-independent' || mapping.permitted.has(c.filtering === 'address-dependent' ? from.address : key(from));
    return allowed ? mapping.internal : undefined;
  }
}
