import type { BindingObservation } from './evidence.js';
import type { PortAllocation } from './verdict.js';

/** A step k × stride with k up to this counts as the stride with ports taken by other hosts' flows in between. */
const MAX_GAP_MULTIPLE = 4;
/** The share of steps that must fit the stride (exactly or with a gap) to call the allocation sequential. */
const MIN_CONSISTENT_FRACTION = 0.6;

/**
 * Describes how the NAT allocates external ports (RFC 4787 §4.2) from test I of fresh sockets,
 * in the order their first requests were sent. Only exchanges answered at the first send count:
 * a retransmitted one may have made its mapping out of order.
 *
 * Any constant stride is sequential (a NAT handing out ports 256 apart is as predictable as one handing out
 * 1 apart): the stride is the most common step, and the allocation is sequential when at least two steps equal
 * it and most steps are a small multiple of it (a busy NAT gives other hosts' flows the ports in between).
 */
export function describePortAllocation(samples: readonly BindingObservation[]): { allocation: PortAllocation; reason?: string } {
  const usable = samples
    .filter((s) => s.outcome === 'response' && s.attempts === 1 && (s.xorMappedAddress ?? s.mappedAddress) !== undefined)
    .map((s) => ({ localPort: s.local.port, mappedPort: (s.xorMappedAddress ?? s.mappedAddress)?.port ?? 0 }));
  if (usable.length < 2) {
    return {
      allocation: { pattern: 'unknown', samples: usable },
      reason: `${usable.length} mapping(s) answered at the first send; at least 2 are needed`,
    };
  }
  if (usable.every((s) => s.localPort === s.mappedPort)) return { allocation: { pattern: 'preserved', samples: usable } };
  if (usable.length < 3) {
    return { allocation: { pattern: 'unknown', samples: usable }, reason: 'ports not preserved; 3 mappings are needed to tell sequential from random' };
  }
  const deltas = usable.slice(1).map((s, i) => s.mappedPort - (usable[i]?.mappedPort ?? 0));
  const stride = findStride(deltas);
  if (stride !== undefined) {
    const consistent = deltas.filter((d) => fitsStride(d, stride.delta)).length;
    if (stride.exact >= 2 && consistent / deltas.length >= MIN_CONSISTENT_FRACTION) {
      const allocation: PortAllocation = { pattern: 'sequential', delta: stride.delta, samples: usable };
      if (consistent === deltas.length && stride.exact === deltas.length) return { allocation };
      return { allocation, reason: `stride ${stride.delta}: ${stride.exact} of ${deltas.length} steps exactly, ${consistent} with gaps (other flows took ports between)` };
    }
  }
  return { allocation: { pattern: 'random', samples: usable }, reason: `steps between mappings: ${deltas.join(', ')}` };
}

/** The most common non-zero step and how often it occurs exactly (ties: the smaller magnitude, a gap is a multiple). */
function findStride(deltas: readonly number[]): { delta: number; exact: number } | undefined {
  const counts = new Map<number, number>();
  for (const d of deltas) if (d !== 0) counts.set(d, (counts.get(d) ?? 0) + 1);
  let best: { delta: number; exact: number } | undefined;
  for (const [delta, exact] of counts) {
    if (best === undefined || exact > best.exact || (exact === best.exact && Math.abs(delta) < Math.abs(best.delta))) best = { delta, exact };
  }
  return best;
}

function fitsStride(delta: number, stride: number): boolean {
  const multiple = delta / stride;
  return Number.isInteger(multiple) && multiple >= 1 && multiple <= MAX_GAP_MULTIPLE;
}
