import { describe, expect, it } from '@jest/globals';
import type { P2pReport } from '../../src/api/p2p.js';
import { p2pVerdict, renderP2pText } from '../../src/cli/render/p2p-text.js';

const base: P2pReport = {
  schema: 'natscope.p2p/1',
  rendezvous: '192.0.2.1:3480',
  direct: true,
  pair: { local: { address: '203.0.113.10:20256', kind: 'predicted' }, remote: { address: '198.51.100.20:40000', kind: 'server-reflexive' } },
  technique: 'port-prediction',
  timeToDirectMs: 41.5,
  predicted: 'port-prediction',
  predictionReason: "your NAT gives a new port for every destination, 256 after the last, so its next port can be predicted; the peer's filters by port",
  predictionHeld: true,
  birthdayProbability: null,
  probesSent: 18,
  self: { mappedAddress: '203.0.113.10:20000', classification: { mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent', portAllocation: { pattern: 'sequential', delta: 256 }, rfc3489: 'symmetric' } },
  peer: { mappedAddress: '198.51.100.20:40000', classification: { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', portAllocation: { pattern: 'preserved' }, rfc3489: 'port-restricted-cone' } },
  path: { rttMs: 20.1, lossPercent: 0 },
  durationMs: 3456,
  reason: null,
  error: null,
};

describe('renderP2pText', () => {
  it('says the verdict in one plain sentence first, then a table within 80 columns', () => {
    const text = renderP2pText(base, 80);
    const lines = text.split('\n');
    const tableStart = lines.findIndex((line) => line.startsWith('┌'));
    expect(lines.slice(0, tableStart).join(' ')).toBe("Direct connection: your peer and you reach each other without a relay by predicting the NAT's next port, 42 ms after the agreed start.");
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(text).toMatch(/203\.0\.113\.10:20256 \(predicted\)/);
    expect(text).toMatch(/sequential/);
    expect(text).toMatch(/step 256/);
    // The table gives the time as the verdict does: whole milliseconds (the JSON keeps 41.5).
    expect(text).toMatch(/Time to direct\s+│ 42 ms\s+│/);
  });

  it('gives the cause of a failure in words, and says inconclusive when the peer never came', () => {
    const failed: P2pReport = { ...base, direct: false, pair: null, technique: null, timeToDirectMs: null, path: null, predicted: 'relay-needed', reason: "the peer's NAT gives a new random port for every destination and yours filters by port: this pair needs a relay" };
    expect(p2pVerdict(failed)).toMatch(/^No direct connection: the peer's NAT gives a new random port/);
    const inconclusive: P2pReport = { ...failed, error: 'the peer did not come to the room within 5 s', peer: { mappedAddress: null, classification: null } };
    expect(p2pVerdict(inconclusive)).toBe('Inconclusive: the peer did not come to the room within 5 s.');
    expect(renderP2pText(inconclusive, 80)).toMatch(/Peer's NAT\s+│ unknown/);
  });

  it('renders values it does not know by name as they are', () => {
    const odd = { ...base, technique: 'teleport' as unknown as P2pReport['technique'], predicted: 'maybe' as unknown as P2pReport['predicted'] };
    const text = renderP2pText(odd, 60);
    expect(text).toMatch(/by teleport/);
    expect(text).toMatch(/maybe/);
  });
});
