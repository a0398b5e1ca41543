import { describe, expect, it } from '@jest/globals';
import { explainPunch, type PunchReport } from '../../src/api/punch.js';
import { renderPunchText } from '../../src/cli/render/punch-text.js';
import { visibleWidth } from '../../src/cli/render/wrap.js';

const base: Omit<PunchReport, 'explanation'> = {
  schema: 'natscope.punch/1',
  server: '198.51.100.1:9199',
  punched: true,
  mappedAddress: '192.0.2.10:40000',
  rttMs: 0.4,
  alternatePortReachable: false,
  lifetime: { seconds: 30.2, lowerSeconds: 29.8, upperSeconds: 30.6 },
  sustainedLifetime: null,
  filteringLifetime: null,
  classification: { mapping: 'endpoint-independent', filtering: 'address-and-port-dependent', rfc3489: 'port-restricted-cone' },
  openAtBound: { lifetime: false, sustainedLifetime: true },
  maxLifetimeSeconds: 600,
  keepaliveSeconds: 23,
  search: { lifetime: null, sustainedLifetime: null, filteringLifetime: null },
  durationMs: 61234,
  reason: null,
  busy: null,
  deadlineSeconds: 1300,
};

describe('the punch explanation', () => {
  it('says "through your NAT" only when the server saw an address that is not this host\'s own', () => {
    expect(explainPunch(base, undefined, false)).toContain('through your NAT (it saw you as 192.0.2.10:40000)');
    const own = explainPunch(base, undefined, true);
    expect(own).not.toMatch(/through your NAT/);
    expect(own).toContain("it saw this host's own address 192.0.2.10:40000 (no NAT on the way)");
    expect(own).toContain('a firewall on the way filters by address and port');
    expect(own).not.toMatch(/your NAT/);
  });
});

describe('the punch text', () => {
  it.each([40, 80, 120])('fits %i columns, explanation and table alike', (width) => {
    const report: PunchReport = { ...base, explanation: explainPunch(base, base.classification ?? undefined, false) };
    const text = renderPunchText(report, width, [{ key: 'punched', value: 'true', actual: true, met: true, undecided: false }]);
    expect(Math.max(...text.split('\n').map(visibleWidth))).toBeLessThanOrEqual(width);
    expect(text.replace(/\s+/g, ' ')).toContain('still open at 600 s');
    expect(text).toContain('✔ expected punched=true');
  });
});
