import { describe, expect, it } from '@jest/globals';
import { transportAddress } from '../../src/codec/transport-address.js';
import { describePortAllocation } from '../../src/diagnose/port-allocation.js';
import type { BindingObservation } from '../../src/diagnose/evidence.js';

const sample = (localPort: number, mappedPort: number, attempts = 1): BindingObservation => ({
  test: 'allocation',
  local: transportAddress('0.0.0.0', localPort),
  destination: transportAddress('203.0.113.1', 3478),
  outcome: 'response',
  attempts,
  elapsedMs: 1,
  xorMappedAddress: transportAddress('203.0.113.100', mappedPort),
});

describe('describePortAllocation (RFC 4787 §4.2)', () => {
  it('sees preserved ports', () => {
    expect(describePortAllocation([sample(1000, 1000), sample(2000, 2000), sample(3000, 3000)]).allocation.pattern).toBe('preserved');
  });
  it('sees sequential allocation and its delta', () => {
    expect(describePortAllocation([sample(1000, 6000), sample(1500, 6002), sample(900, 6004), sample(4000, 6006)]).allocation).toMatchObject({ pattern: 'sequential', delta: 2 });
  });
  it('sees random allocation', () => {
    expect(describePortAllocation([sample(1000, 61234), sample(1001, 20480), sample(1002, 45017)]).allocation.pattern).toBe('random');
  });
  it('does not use exchanges that needed a retransmission, and says unknown with too few', () => {
    const result = describePortAllocation([sample(1000, 6000), sample(1001, 6001, 2), sample(1002, 6002, 3)]);
    expect(result.allocation.pattern).toBe('unknown');
    expect(result.reason).toMatch(/1 mapping\(s\) answered at the first send/);
  });
  it('needs three samples to call unpreserved ports sequential or random', () => {
    expect(describePortAllocation([sample(1000, 6000), sample(1001, 6001)]).allocation.pattern).toBe('unknown');
  });
});
