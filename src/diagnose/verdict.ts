/** RFC 4787 §4.1 mapping and §5 filtering behaviours, or "unknown" when the evidence does not decide. */
export type Behaviour = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent' | 'unknown';

/** The RFC 3489 §5 names for NAT types, for people who know only those words. */
export type Rfc3489Type =
  | 'open-internet'
  | 'full-cone'
  | 'restricted-cone'
  | 'port-restricted-cone'
  | 'symmetric'
  | 'symmetric-firewall'
  | 'udp-blocked'
  | 'unknown';

/** How the NAT picks external ports (RFC 4787 §4.2.1 port preservation, §4.2.2 allocation). */
export interface PortAllocation {
  readonly pattern: 'preserved' | 'sequential' | 'random' | 'unknown';
  /** For "sequential", the step between consecutive mappings. */
  readonly delta?: number;
  /** Local port → external port, in the order the mappings were made. */
  readonly samples: ReadonlyArray<{ readonly localPort: number; readonly mappedPort: number }>;
}

/** The classifier's verdict: every field is decided from evidence or left unknown/null with a reason. */
export interface NatVerdict {
  /** True behind a NAT, false when the mapped address is local, null when unknown. */
  readonly nat: boolean | null;
  readonly mapping: Behaviour;
  readonly filtering: Behaviour;
  readonly hairpinning: boolean | null;
  /** True when MAPPED-ADDRESS ≠ XOR-MAPPED-ADDRESS: something on the path rewrites addresses inside packets. */
  readonly algRewriting: boolean | null;
  /** True when test I's external port equals the local port (RFC 4787 §4.2.1). */
  readonly portPreservation: boolean | null;
  readonly portAllocation: PortAllocation;
  readonly rfc3489: Rfc3489Type;
  /** "ip:port" of test I's XOR-MAPPED-ADDRESS. */
  readonly mappedAddress: string | null;
  /** Why each field is what it is, in words (only the fields that need explaining). */
  readonly reasons: Readonly<Partial<Record<'nat' | 'mapping' | 'filtering' | 'hairpinning' | 'algRewriting' | 'portAllocation' | 'rfc3489', string>>>;
}
