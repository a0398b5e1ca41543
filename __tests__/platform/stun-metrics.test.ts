import { describe, expect, it } from '@jest/globals';
import { describeDrops, loadPromClient, registerStunMetrics } from '../../src/platform/stun-metrics.js';
import { StunServerProtocol } from '../../src/protocol/stun-server.js';
import { SourceRateLimiter } from '../../src/protocol/rate-limiter.js';
import { transportAddress } from '../../src/codec/transport-address.js';

describe('the once-a-minute drop line', () => {
  it('names only the reasons that grew, with how much', () => {
    expect(describeDrops({ malformed: 5, 'rate-limited': 12, 'not-stun': 1 }, { malformed: 2, 'rate-limited': 12, 'not-stun': 0 })).toBe('3 malformed, 1 not-stun');
  });
  it('says nothing when nothing was dropped', () => {
    expect(describeDrops({ malformed: 2 }, { malformed: 2 })).toBeUndefined();
  });
});

describe('STUN server metrics', () => {
  it('reads the protocol counters at scrape time, per worker, without source addresses', async () => {
    const prom = await loadPromClient();
    const registry = new prom.Registry();
    const protocol = new StunServerProtocol({ primaryAddress: '192.0.2.1', primaryPort: 3478, rateLimit: { packetsPerSecond: 1, burst: 1 } });
    registerStunMetrics(prom, registry, '3', protocol);
    const request = Buffer.from('000100002112a442' + '00'.repeat(12), 'hex');
    const from = transportAddress('198.51.100.9', 5000);
    protocol.handleDatagram(0, request, from, { address: 'primary', port: 'primary' });
    protocol.handleDatagram(0, request, from, { address: 'primary', port: 'primary' });
    protocol.handleDatagram(0, Buffer.from('garbage!'), transportAddress('198.51.100.10', 5000), { address: 'primary', port: 'primary' });
    const text = await registry.metrics();
    expect(text).toMatch(/natscope_stun_requests_total\{worker="3",type="rfc8489"\} 1/);
    expect(text).toMatch(/natscope_stun_responses_total\{worker="3",type="success"\} 1/);
    expect(text).toMatch(/natscope_stun_dropped_total\{worker="3",reason="rate-limited"\} 1/);
    expect(text).toMatch(/natscope_stun_dropped_total\{worker="3",reason="not-stun"\} 1/);
    expect(text).toMatch(/natscope_stun_received_bytes_total\{worker="3"\} 48/);
    expect(text).toMatch(/natscope_stun_sources_tracked\{worker="3"\} 2/);
    expect(text).toMatch(/natscope_stun_largest_amplification_ratio\{worker="3"\} [1-4]\.\d+/);
    expect(text).not.toMatch(/198\.51\.100/);
  });
});

describe('SourceRateLimiter', () => {
  it('allows everything and tracks nobody when off', () => {
    const limiter = new SourceRateLimiter('off');
    for (let i = 0; i < 10_000; i += 1) expect(limiter.allow(`10.0.${i >> 8}.${i & 255}`, 0)).toBe(true);
    expect(limiter.size).toBe(0);
  });
  it('forgets the least recently seen source when it tracks maxSources', () => {
    const limiter = new SourceRateLimiter({ packetsPerSecond: 1, burst: 1 }, 2);
    expect(limiter.allow('a', 0)).toBe(true);
    expect(limiter.allow('b', 0)).toBe(true);
    expect(limiter.allow('c', 0)).toBe(true); // forgets a
    expect(limiter.size).toBe(2);
    expect(limiter.allow('a', 0)).toBe(true); // a is new again
    expect(limiter.allow('c', 0)).toBe(false);
  });
});
