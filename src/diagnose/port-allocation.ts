import type { BindingObservation } from './evidence.js';
import type { PortAllocation } from './verdict.js';

/** The largest step between consecutive mappings still called "sequential". */
const MAX_SEQUENTIAL_DELTA = 16;

/**
 * Describes how the NAT allocates external ports (RFC 4787 §4.2) from test I of fresh sockets,
 * in the order their first requests were sent. Only exchanges answered at the first send count:
 * a retransmitted one may have made its mapping out of order.
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
  const first = deltas[0] ?? 0;
  if (first !== 0 && Math.abs(first) <= MAX_SEQUENTIAL_DELTA && deltas.every((d) => d === first)) {
    return { allocation: { pattern: 'sequential', delta: first, samples: usable } };
  }
  return { allocation: { pattern: 'random', samples: usable }, reason: `steps between mappings: ${deltas.join(', ')}` };
}
