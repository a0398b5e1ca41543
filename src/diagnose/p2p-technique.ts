import type { Behaviour, PortAllocation } from './verdict.js';

/** What p2p needs of one side's classification. */
export interface P2pSideNat {
  readonly mapping: Behaviour;
  readonly filtering: Behaviour;
  readonly portAllocation: Pick<PortAllocation, 'pattern' | 'delta'>;
}

/** What two classifications say about a direct path, before any packet is sent. */
export type P2pPrediction = 'direct' | 'port-prediction' | 'birthday' | 'relay-needed' | 'unknown';

/** What this side does in the punch, by the plan both sides derive alike from the two classifications. */
export interface P2pRole {
  /** Send checks to the peer's server-reflexive (and, behind the same NAT, host) candidates first. */
  readonly checkPeerCandidates: boolean;
  /** Send checks to the peer's predicted next ports. */
  readonly checkPeerPredicted: boolean;
  /** Both sides predict: each sends to the other's k-th predicted port as its own k-th new mapping (lockstep). */
  readonly lockstep: boolean;
  /** Birthday: "open-sockets" opens many sockets toward the peer; "probe-random-ports" sprays the peer's IP. */
  readonly birthday: 'open-sockets' | 'probe-random-ports' | null;
}

/** The decision for a pair, from one side's point of view. */
export interface P2pTechniqueDecision {
  readonly predicted: P2pPrediction;
  /** Why, in words a non-expert can follow. */
  readonly reason: string;
  readonly role: P2pRole;
}

const easyMapping = (n: P2pSideNat): boolean => n.mapping === 'endpoint-independent';
const predictable = (n: P2pSideNat): boolean => n.portAllocation.pattern === 'sequential' || n.portAllocation.pattern === 'preserved';
const randomPorts = (n: P2pSideNat): boolean => n.portAllocation.pattern === 'random';
/** RFC 4787 §5: a filter that lets in any port of an address this side has sent to (or anything at all). */
const lenientFilter = (n: P2pSideNat): boolean => n.filtering === 'endpoint-independent' || n.filtering === 'address-dependent';

const PLAIN: P2pRole = { checkPeerCandidates: true, checkPeerPredicted: false, lockstep: false, birthday: null };

function describeMapping(n: P2pSideNat): string {
  if (n.mapping === 'endpoint-independent') return 'keeps one public port per socket';
  if (n.portAllocation.pattern === 'random') return 'gives a new random port for every destination';
  if (n.portAllocation.pattern === 'sequential') return `gives a new port for every destination (each ${n.portAllocation.delta ?? '?'} after the last)`;
  return 'gives a new port for every destination';
}

/**
 * Which technique a pair of NATs allows (RFC 4787 §4.1 mapping, §5 filtering, §4.2.2 port allocation), from this
 * side's point of view. Both sides call it with the two classifications swapped and get the same prediction and
 * matching roles. `birthday: false` forbids the spray (the prediction is then "relay-needed" where only it would do).
 */
export function decideP2pTechnique(self: P2pSideNat, peer: P2pSideNat, options: { birthday: boolean }): P2pTechniqueDecision {
  if (self.mapping === 'unknown' || peer.mapping === 'unknown') {
    const who = self.mapping === 'unknown' ? (peer.mapping === 'unknown' ? 'neither NAT' : 'your NAT') : "the peer's NAT";
    return { predicted: 'unknown', reason: `the mapping of ${who} is unknown, so nothing can be predicted`, role: PLAIN };
  }
  // RFC 4787 §4.1: both map endpoint-independently, so each side's server-reflexive address is the one the peer
  // will see; sending both ways at once opens both filters (simultaneous open).
  if (easyMapping(self) && easyMapping(peer)) {
    return { predicted: 'direct', reason: 'each side keeps one public address and port per socket (an endpoint-independent NAT, or none): sending to each other at the same time opens both ways', role: PLAIN };
  }
  const selfEasy = easyMapping(self);
  const easy = selfEasy ? self : easyMapping(peer) ? peer : undefined;
  const hard = selfEasy ? peer : easy === undefined ? undefined : self;
  if (easy !== undefined && hard !== undefined) {
    const easyName = selfEasy ? 'yours' : "the peer's";
    const hardName = selfEasy ? "the peer's NAT" : 'your NAT';
    // RFC 4787 §5: the easy side lets in any port of the hard side's address once it has sent there, so the hard
    // side's packet from its new mapping gets in and is answered (a peer-reflexive candidate, RFC 8445 §7.2.5.3.1).
    if (lenientFilter(easy)) {
      if (easy.filtering === 'unknown') return { predicted: 'unknown', reason: `the filtering of ${easyName} is unknown`, role: PLAIN };
      return { predicted: 'direct', reason: `${hardName} ${describeMapping(hard)}, but ${easyName} lets in any port of an address it has sent to`, role: PLAIN };
    }
    if (easy.filtering === 'unknown') return { predicted: 'unknown', reason: `the filtering of ${selfEasy ? 'your NAT' : "the peer's NAT"} is unknown`, role: PLAIN };
    if (predictable(hard)) {
      return {
        predicted: 'port-prediction',
        reason: `${hardName} ${describeMapping(hard)}, so its next port can be predicted; ${easyName} filters by port`,
        role: selfEasy ? { ...PLAIN, checkPeerPredicted: true } : PLAIN,
      };
    }
    if (randomPorts(hard)) {
      if (!options.birthday) {
        return { predicted: 'relay-needed', reason: `${hardName} ${describeMapping(hard)} and ${easyName} filters by port: this pair needs a relay (the birthday spray is disabled)`, role: PLAIN };
      }
      return {
        predicted: 'birthday',
        reason: `${hardName} ${describeMapping(hard)} and ${easyName} filters by port: many sockets on one side and random probes from the other must meet (birthday)`,
        role: { ...PLAIN, birthday: selfEasy ? 'probe-random-ports' : 'open-sockets' },
      };
    }
    return { predicted: 'unknown', reason: `the port allocation of ${hardName} is unknown`, role: PLAIN };
  }
  // Neither maps endpoint-independently: only two predictable allocations can meet, in lockstep.
  if (predictable(self) && predictable(peer)) {
    return {
      predicted: 'port-prediction',
      reason: 'both NATs give a new port for every destination, predictably: each side sends to the other\'s next ports in step',
      role: { checkPeerCandidates: false, checkPeerPredicted: true, lockstep: true, birthday: null },
    };
  }
  if (self.portAllocation.pattern === 'unknown' || peer.portAllocation.pattern === 'unknown') {
    return { predicted: 'unknown', reason: 'both NATs give a new port for every destination and the port allocation of one is unknown', role: PLAIN };
  }
  return {
    predicted: 'relay-needed',
    reason: `your NAT ${describeMapping(self)} and the peer's ${describeMapping(peer)}: neither side can learn the other's port, so this pair needs a relay`,
    role: PLAIN,
  };
}

/** True when the prediction says a direct path should be found; null when it says nothing. */
export function predictsDirect(predicted: P2pPrediction): boolean | null {
  if (predicted === 'unknown') return null;
  return predicted !== 'relay-needed';
}
