import { describe, expect, it } from '@jest/globals';
import { describeLab, labUp } from '../../src/api/lab.js';
import { renderLabUp } from '../../src/cli/render/lab-text.js';
import { findPreset, LAB_PRESETS, type LabPreset } from '../../src/lab/presets.js';
import { LAB, natRuleset, presetOfNat, SEQUENTIAL_PORTS, sequentialPortExpression, setupCommands } from '../../src/lab/topology.js';

const preset = (name: string): LabPreset => {
  const found = findPreset(name);
  if (found === undefined) throw new Error(`no preset ${name}`);
  return found;
};
const postrouting = (ruleset: string): string[] => {
  const chain = ruleset.slice(ruleset.indexOf('chain postrouting'));
  return chain.split('\n').slice(2).map((l) => l.trim()).filter((l) => l !== '' && l !== '}');
};
const commandLines = (commands: ReturnType<typeof setupCommands>): string[] => commands.map((c) => c.argv.join(' '));
const IPV4 = LAB_PRESETS.filter((p) => p.family === 4);

describe('a preset for each NAT', () => {
  it('gives nat1 the preset and nat2 the peer preset', () => {
    const options = { preset: preset('port-restricted-cone'), peerPreset: preset('symmetric-sequential') };
    expect(presetOfNat(options, 0).name).toBe('port-restricted-cone');
    expect(presetOfNat(options, 1).name).toBe('symmetric-sequential');
    expect(postrouting(natRuleset(options, 0))).toEqual([`oifname "wan0" ip saddr ${LAB.lanPrefix[0]} masquerade`]);
    expect(postrouting(natRuleset(options, 1))[0]).toContain(`snat to ${LAB.natWan[1]} : numgen inc`);
  });

  it('gives nat2 the same preset as nat1 when no peer preset is given', () => {
    const options = { preset: preset('symmetric') };
    expect(presetOfNat(options, 1).name).toBe('symmetric');
    expect(postrouting(natRuleset(options, 1))).toEqual([`oifname "wan0" ip saddr ${LAB.lanPrefix[1]} masquerade fully-random`]);
  });

  it.each(IPV4.map((p) => [p.name, p] as const))("builds %s's rules the same whatever the other NAT is", (_name, own) => {
    for (const other of IPV4) {
      expect(natRuleset({ preset: own, peerPreset: other }, 0)).toBe(natRuleset({ preset: own }, 0));
      expect(natRuleset({ preset: other, peerPreset: own }, 1)).toBe(natRuleset({ preset: own }, 1));
    }
  });

  it('keeps the rules of the presets that were there before', () => {
    const rules = (name: string) => postrouting(natRuleset({ preset: preset(name) }, 0));
    const lan = LAB.lanPrefix[0];
    expect(rules('open-internet')).toEqual([]);
    expect(rules('firewall-only')).toEqual([]);
    expect(rules('full-cone')).toEqual([`oifname "wan0" ip saddr ${lan} masquerade`]);
    expect(rules('restricted-cone')).toEqual([`oifname "wan0" ip saddr ${lan} masquerade`]);
    expect(rules('port-restricted-cone')).toEqual([`oifname "wan0" ip saddr ${lan} masquerade`]);
    expect(rules('address-dependent-mapping')).toHaveLength(3);
    expect(rules('symmetric')).toEqual([`oifname "wan0" ip saddr ${lan} masquerade fully-random`]);
  });

  it('drops UDP sent to the NAT itself in every preset, so an early punch leaves no conntrack entry holding a port', () => {
    for (const p of LAB_PRESETS) {
      const ruleset = natRuleset({ preset: p }, 0);
      expect(ruleset).toContain('type filter hook input priority filter; policy accept;\n    iifname "wan0" meta l4proto udp drop');
    }
  });
});

describe('the symmetric-sequential preset', () => {
  const rules = postrouting(natRuleset({ preset: preset('symmetric-sequential') }, 0));

  it('maps each new UDP flow to the next port of a counter, whatever its source port', () => {
    expect(rules[0]).toBe(`oifname "wan0" ip saddr ${LAB.lanPrefix[0]} meta l4proto udp snat to ${LAB.natWan[0]} : ${sequentialPortExpression(1)}`);
    const map = /numgen inc mod (\d+) map \{ (.*) \}/.exec(rules[0] ?? '');
    expect(Number(map?.[1])).toBe(SEQUENTIAL_PORTS.count);
    const entries = (map?.[2] ?? '').split(', ').map((e) => e.split(' : ').map(Number));
    expect(entries).toEqual(Array.from({ length: SEQUENTIAL_PORTS.count }, (_, k) => [k, SEQUENTIAL_PORTS.first + k]));
  });

  it('masquerades what is not UDP', () => {
    expect(rules.slice(1)).toEqual([`oifname "wan0" ip saddr ${LAB.lanPrefix[0]} masquerade`]);
  });

  it('says what classify must find: address-and-port-dependent mapping, sequential ports one apart', () => {
    expect(preset('symmetric-sequential').truth).toEqual({
      nat: true,
      mapping: 'address-and-port-dependent',
      filtering: 'address-and-port-dependent',
      rfc3489: 'symmetric',
      portAllocation: { pattern: 'sequential', delta: 1 },
    });
  });

  it('builds a port map of any stride, and refuses one that leaves 1024-65535', () => {
    expect(sequentialPortExpression(256, 1024, 3)).toBe('numgen inc mod 3 map { 0 : 1024, 1 : 1280, 2 : 1536 }');
    expect(() => sequentialPortExpression(256, 20000, 4096)).toThrow(/4096 ports 256 apart from 20000 leaves 1024-65535/);
    expect(() => sequentialPortExpression(0)).toThrow(RangeError);
  });
});

describe('routes between the NATs', () => {
  it("routes a NAT to the other client's own address only when the other side has no NAT", () => {
    const lines = commandLines(setupCommands({ preset: preset('port-restricted-cone'), peerPreset: preset('open-internet') }));
    expect(lines).toContain(`ip netns exec ${LAB.nat[0]} ip route add ${LAB.lanPrefix[1]} via ${LAB.natWan[1]}`);
    expect(lines.some((l) => l.startsWith(`ip netns exec ${LAB.nat[1]} ip route add ${LAB.lanPrefix[0]}`))).toBe(false);
  });

  it('leaves IPv6 routed between the NATs for IPv4 presets, and IPv4 for IPv6 presets', () => {
    const v4 = commandLines(setupCommands({ preset: preset('symmetric') }));
    expect(v4).toContain(`ip netns exec ${LAB.nat[0]} ip -6 route add ${LAB.lanPrefix6[1]} via ${LAB.natWan6[1]}`);
    expect(v4.some((l) => l.includes(`route add ${LAB.lanPrefix[1]} via`) && l.includes(LAB.nat[0]))).toBe(false);
    const v6 = commandLines(setupCommands({ preset: preset('ipv6-nat66') }));
    expect(v6).toContain(`ip netns exec ${LAB.nat[0]} ip route add ${LAB.lanPrefix[1]} via ${LAB.natWan[1]}`);
    expect(v6.some((l) => l.includes(`-6 route add ${LAB.lanPrefix6[1]}`) && l.includes(LAB.nat[0]))).toBe(false);
  });
});

describe('lab up with two presets', () => {
  it('describes both NATs truthfully', () => {
    const lab = describeLab(preset('port-restricted-cone'), preset('symmetric'));
    expect(lab).toMatchObject({
      preset: 'port-restricted-cone',
      peerPreset: 'symmetric',
      nats: [
        { host: 'nat1', clientHost: 'client1', preset: 'port-restricted-cone', publicAddress: LAB.natWan[0], client: LAB.clientAddress[0] },
        { host: 'nat2', clientHost: 'client2', preset: 'symmetric', publicAddress: LAB.natWan[1], client: LAB.clientAddress[1] },
      ],
    });
    const text = renderLabUp(lab);
    expect(text).toContain('lab up: port-restricted-cone (nat1) and symmetric (nat2)');
    expect(text).toContain(`nat2 ${LAB.natWan[1]}: symmetric (masquerade fully-random`);
    expect(text).toContain(`client2 ${LAB.clientAddress[1]} behind it`);
  });

  it('says one preset once when both NATs take it', () => {
    expect(renderLabUp(describeLab(preset('full-cone')))).toMatch(/^lab up: full-cone in both NATs\n/);
  });

  it('refuses a peer preset of the other IP version, or one that does not exist, before touching anything', () => {
    expect(() => labUp({ preset: 'symmetric', peerPreset: 'ipv6-nat66' })).toThrow(/ipv6-nat66 is about IPv6 and symmetric about IPv4/);
    expect(() => labUp({ preset: 'symmetric', peerPreset: 'moat' })).toThrow(/no lab preset "moat"/);
    expect(() => labUp({ preset: 'full-cone', peerPreset: 'symmetric', hairpin: true })).toThrow(/--hairpin needs .* not symmetric/);
  });
});
