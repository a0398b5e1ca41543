import { describe, expect, it } from '@jest/globals';
import { parseProcNetRoute } from '../../src/platform/default-gateway.js';
import { parseTracepath } from '../../src/platform/trace-hops.js';

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';

describe('parseProcNetRoute', () => {
  it('reads the default gateway, little-endian hex, from /proc/net/route', () => {
    const text = [HEADER, 'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0', 'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0', ''].join('\n');
    expect(parseProcNetRoute(text)).toEqual({ gateway: '192.0.2.1', interfaceName: 'eth0' });
  });

  it('takes the lowest metric among default routes, and skips routes that are down or have no gateway', () => {
    const text = [
      HEADER,
      'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
      'eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0',
      'tun0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0',
      'eth1\t00000000\t0200000A\t0002\t0\t0\t0\t00000000\t0\t0\t0',
    ].join('\n');
    expect(parseProcNetRoute(text)).toEqual({ gateway: '10.0.0.1', interfaceName: 'eth0' });
  });

  it('gives undefined without a default route, or for garbage', () => {
    expect(parseProcNetRoute(HEADER)).toBeUndefined();
    expect(parseProcNetRoute('garbage\n\u0000\u0001 x y')).toBeUndefined();
  });
});

describe('parseTracepath', () => {
  it('reads hop numbers and addresses, once per hop, skipping "no reply"', () => {
    const text = [' 1?: [LOCALHOST]                      pmtu 1500', ' 1:  192.0.2.1                                             0.150ms', ' 1:  192.0.2.1                                             0.060ms', ' 2:  100.64.0.1                                            0.110ms', ' 3:  no reply', '     Resume: pmtu 1500'].join('\n');
    expect(parseTracepath(text)).toEqual([
      { hop: 1, address: '192.0.2.1' },
      { hop: 2, address: '100.64.0.1' },
    ]);
  });
});
