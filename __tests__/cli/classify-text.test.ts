import { describe, expect, it } from '@jest/globals';
import type { ClassifyReport } from '../../src/api/classify.js';
import type { Behaviour, Rfc3489Type } from '../../src/diagnose/verdict.js';
import { renderClassifyText, verdictSentences, type ClassifyTextInput } from '../../src/cli/render/classify-text.js';
import { visibleWidth } from '../../src/cli/render/wrap.js';

const BEHAVIOURS: Behaviour[] = ['endpoint-independent', 'address-dependent', 'address-and-port-dependent', 'unknown'];
const TRI = [true, false, null] as const;

/** RFC 3489 §5 names as the classifier derives them from the three fields. */
function rfc3489Of(nat: boolean | null, mapping: Behaviour, filtering: Behaviour): Rfc3489Type {
  if (nat === null) return 'unknown';
  if (nat === false) return filtering === 'unknown' ? 'unknown' : filtering === 'endpoint-independent' ? 'open-internet' : 'symmetric-firewall';
  if (mapping === 'address-dependent' || mapping === 'address-and-port-dependent') return 'symmetric';
  if (mapping === 'unknown') return 'unknown';
  const cones: Record<Behaviour, Rfc3489Type> = {
    'endpoint-independent': 'full-cone',
    'address-dependent': 'restricted-cone',
    'address-and-port-dependent': 'port-restricted-cone',
    unknown: 'unknown',
  };
  return cones[filtering];
}

/** A report with the given fields; every unknown field has a reason naming it, so the text can be searched for it. */
function report(fields: {
  nat: boolean | null;
  mapping: Behaviour;
  filtering: Behaviour;
  hairpinning: boolean | null;
  algRewriting: boolean | null;
  allocation: 'preserved' | 'random' | 'unknown';
}): ClassifyTextInput {
  const reasons: Record<string, string> = {};
  if (fields.nat === null) reasons.nat = 'reason-of-nat';
  if (fields.mapping === 'unknown') reasons.mapping = 'reason-of-mapping';
  if (fields.filtering === 'unknown') reasons.filtering = 'reason-of-filtering';
  if (fields.hairpinning === null) reasons.hairpinning = 'reason-of-hairpinning';
  if (fields.algRewriting !== false) reasons.algRewriting = 'reason-of-alg';
  if (fields.allocation === 'unknown') reasons.portAllocation = 'reason-of-allocation';
  const rfc3489 = rfc3489Of(fields.nat, fields.mapping, fields.filtering);
  if (rfc3489 === 'unknown') reasons.rfc3489 = 'reason-of-rfc3489';
  // The classifier has a mapped address whenever it could tell whether there is a NAT.
  const mappedAddress = fields.nat === null ? null : fields.nat ? '203.0.113.11:40000' : '192.0.2.10:40000';
  return {
    nat: fields.nat,
    mapping: fields.mapping,
    filtering: fields.filtering,
    hairpinning: fields.hairpinning,
    algRewriting: fields.algRewriting,
    portPreservation: fields.allocation === 'preserved' ? true : fields.allocation === 'random' ? false : null,
    portAllocation: { pattern: fields.allocation, samples: [] },
    rfc3489,
    mappedAddress,
    reasons,
    server: '198.51.100.1:3478',
    serverName: 'stun.example.net',
    serverSupportsRfc5780: true,
    localAddress: '192.0.2.10:40000',
    durationMs: 812,
    tests: [
      {
        test: 'mapping test I',
        local: '0.0.0.0:40000',
        destination: '198.51.100.1:3478',
        changeRequest: null,
        outcome: 'response',
        attempts: 1,
        elapsedMs: 20.1,
        rttMs: 20.05,
        responseFrom: '198.51.100.1:3478',
        xorMappedAddress: mappedAddress,
        mappedAddress,
        otherAddress: '198.51.100.2:3479',
        responseOrigin: '198.51.100.1:3478',
        errorCode: null,
        changedAddress: null,
        systemError: null,
        rejected: {},
      },
      {
        test: 'filtering test II',
        local: '[2001:db8:2::10]:40001',
        destination: '[2001:db8:1::1]:3478',
        changeRequest: { changeIp: true, changePort: true },
        outcome: 'timeout',
        attempts: 7,
        elapsedMs: 790,
        rttMs: null,
        responseFrom: null,
        xorMappedAddress: null,
        mappedAddress: null,
        otherAddress: null,
        responseOrigin: null,
        errorCode: null,
        changedAddress: null,
        systemError: null,
        rejected: {},
      },
    ],
    hairpinTest: { attempts: 2, received: fields.hairpinning === true },
  };
}

const combinations = TRI.flatMap((nat) =>
  BEHAVIOURS.flatMap((mapping) =>
    BEHAVIOURS.flatMap((filtering) =>
      TRI.flatMap((hairpinning) =>
        TRI.flatMap((algRewriting) => (['preserved', 'random', 'unknown'] as const).map((allocation) => ({ nat, mapping, filtering, hairpinning, algRewriting, allocation }))),
      ),
    ),
  ),
);

describe('the plain-language verdict of classify', () => {
  it(`says only what decided fields prove, and names every unknown field with its reason (${combinations.length} combinations)`, () => {
    for (const fields of combinations) {
      const input = report(fields);
      const prose = verdictSentences(input).join(' ');
      const context = `${JSON.stringify(fields)}\n${prose}`;
      const claims = (pattern: RegExp, allowed: boolean): void => {
        if (!allowed) expect({ context, claims: pattern.test(prose) }).toEqual({ context, claims: false });
      };

      if (fields.nat === null) {
        // Nothing came back: one sentence says so, with the reason, and nothing else is claimed.
        expect({ context, ok: prose.includes('could be measured: reason-of-rfc3489') }).toEqual({ context, ok: true });
        claims(/works|filters|mapping is|NAT:/, false);
        continue;
      }
      const unknownWithReason = (field: string, shown: boolean): void => {
        if (shown) expect({ context, ok: new RegExp(`unknown: reason-of-${field}\\.`).test(prose) }).toEqual({ context, ok: true });
      };
      unknownWithReason('mapping', fields.mapping === 'unknown');
      unknownWithReason('filtering', fields.filtering === 'unknown');
      unknownWithReason('hairpinning', fields.hairpinning === null);
      unknownWithReason('alg', fields.algRewriting === null);
      unknownWithReason('allocation', fields.allocation === 'unknown' && fields.nat === true);

      claims(/You are behind a NAT/, fields.nat === true);
      claims(/No NAT/, fields.nat === false);
      for (const behaviour of BEHAVIOURS.slice(0, 3)) {
        claims(new RegExp(`The mapping is ${behaviour}:`), fields.mapping === behaviour);
        claims(new RegExp(`The filtering is ${behaviour}:`), fields.filtering === behaviour);
      }
      claims(/Nothing filters incoming UDP/, fields.filtering === 'endpoint-independent');
      claims(/filters incoming UDP by address:/, fields.filtering === 'address-dependent');
      claims(/filters incoming UDP by address and port/, fields.filtering === 'address-and-port-dependent');
      claims(/Hairpinning works/, fields.hairpinning === true);
      claims(/No hairpinning/, fields.hairpinning === false);
      claims(/rewrites addresses inside packets \(an ALG\):/, fields.algRewriting === true);
      claims(/works with every peer/, ['open-internet', 'full-cone', 'restricted-cone'].includes(input.rfc3489));
      claims(/see the reasons below/i, false);
    }
  });

  it('with no NAT and a server that cannot test filtering, says the filtering is unknown and why, never "a firewall filters"', () => {
    const input = report({ nat: false, mapping: 'endpoint-independent', filtering: 'unknown', hairpinning: true, algRewriting: false, allocation: 'preserved' });
    const text = renderClassifyText(input, 80).replace(/\s+/g, ' ');
    expect(text).toContain("No NAT: servers see this host's own address (192.0.2.10:40000).");
    expect(text).toContain('Whether a firewall filters incoming UDP is unknown: reason-of-filtering.');
    expect(text).not.toMatch(/stateful firewall filters/);
    expect(text).toContain('with a peer behind a symmetric NAT it depends on the filtering, which is unknown');
  });

  it('says UDP looks blocked, with the reason, when the classifier decided so', () => {
    const blocked: ClassifyTextInput = { ...report({ nat: null, mapping: 'unknown', filtering: 'unknown', hairpinning: null, algRewriting: null, allocation: 'unknown' }), rfc3489: 'udp-blocked', reasons: { rfc3489: 'no answer over UDP from 2 STUN servers' } };
    expect(verdictSentences(blocked)[0]).toBe('UDP looks blocked: no answer over UDP from 2 STUN servers.');
  });

  it.each([40, 60, 80, 120])('fits %i columns: no printed line is wider, over a spread of the combinations', (width) => {
    for (const fields of combinations.filter((_, i) => i % 23 === 0)) {
      const lines = renderClassifyText(report(fields), width).split('\n');
      const widest = Math.max(...lines.map(visibleWidth));
      expect({ fields, widest: widest <= width }).toEqual({ fields, widest: true });
    }
  });
});

describe('the classify table', () => {
  it('shows each test: where it was sent (IPv6 too), the answer, the mapped address and the tries', () => {
    const text = renderClassifyText(report({ nat: true, mapping: 'endpoint-independent', filtering: 'address-dependent', hairpinning: false, algRewriting: false, allocation: 'random' }), 80);
    // Each column's text, top to bottom (rows keep their order; a wrapped cell continues on the next line).
    const tableLines = text.split('\n').filter((line) => line.startsWith('│'));
    const column = (i: number): string => tableLines.map((line) => line.split('│')[i + 1]?.trim() ?? '').filter(Boolean).join(' ').replace(/\s+/g, ' ');
    expect(column(0)).toMatch(/^Test mapping test I filtering test II hairpinning/);
    expect(column(1)).toContain('0.0.0.0:40000 → 198.51.100.1:3478 [2001:db8:2::10]:40001 → [2001:db8:1::1]:3478 change IP+port to own mapped addresses');
    expect(column(2)).toContain('answer 20.05 ms 1 try no answer 7 tries no answer 2 tries');
    expect(column(3)).toContain('from 198.51.100.1:3478 mapped 203.0.113.11:40000');
    const flat = text.replace(/\s+/g, ' ');
    expect(flat).toMatch(/Your NAT filters incoming UDP by address: only IPs you have sent to may send to you, from any port\./);
  });
});

// The type is what the CLI passes: a real ClassifyReport fits it.
const _typeCheck = (r: ClassifyReport): ClassifyTextInput => r;
void _typeCheck;
