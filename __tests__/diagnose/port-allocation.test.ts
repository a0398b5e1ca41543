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

  it('calls any constant stride sequential, 256 apart as well as 1 apart', () => {
    const ports = [10000, 10256, 10512, 10768, 11024, 11280];
    expect(describePortAllocation(ports.map((p, i) => sample(1000 + i, p))).allocation).toMatchObject({ pattern: 'sequential', delta: 256 });
  });
  it('counts a descending stride as sequential too', () => {
    expect(describePortAllocation([sample(1, 9000), sample(2, 8990), sample(3, 8980), sample(4, 8970)]).allocation).toMatchObject({ pattern: 'sequential', delta: -10 });
  });
  it('tolerates gaps that other hosts\' flows leave behind a busy NAT', () => {
    // Steps 1, 3, 1, 2, 1, 1, 1: other flows took ports between some of our mappings.
    const ports = [5000, 5001, 5004, 5005, 5007, 5008, 5009, 5010];
    const result = describePortAllocation(ports.map((p, i) => sample(2000 + i, p)));
    expect(result.allocation).toMatchObject({ pattern: 'sequential', delta: 1 });
    expect(result.reason).toMatch(/stride 1: 5 of 7 steps exactly/);
  });
  it('does not mistake one repeated step among random ones for a stride', () => {
    const ports = [61234, 20480, 45017, 45018, 3051, 33333, 12000];
    expect(describePortAllocation(ports.map((p, i) => sample(3000 + i, p))).allocation.pattern).toBe('random');
  });
});
