import { isIP } from 'node:net';
import { NAT_PMP_PORT } from '../codec/natpmp.js';
import { formatTransportAddress, transportAddress, type TransportAddress } from '../codec/transport-address.js';
import { decideDoubleNat } from '../diagnose/double-nat.js';
import { GatewayError } from '../errors.js';
import { boundedHttp, type HttpExchange } from '../platform/bounded-http.js';
import { findDefaultGateway } from '../platform/default-gateway.js';
import { nodeUdpNetwork } from '../platform/node-udp.js';
import { parseHostPort, resolveHost } from '../platform/resolve-host.js';
import { systemClock } from '../platform/system-clock.js';
import { traceHops, type HopTrace } from '../platform/trace-hops.js';
import { probeGateway, type NatPmpFinding, type PcpFinding, type UpnpFinding } from '../probe/gateway-probe.js';
import type { Clock, UdpNetwork } from '../probe/ports.js';
import { verifyMapping, type VerifyReport } from '../probe/verify-mapping.js';

/** Options of `gateway`. */
export interface GatewayOptions {
  /** The router's LAN address; default: the default gateway from the routing table. */
  readonly gateway?: string;
  /** "host[:port]" of a natscope echo server: make one short mapping and check that traffic comes in through it. */
  readonly verify?: string;
  /**
   * The address the internet sees this host at (a STUN mapped address), when the caller knows it (classify does);
   * a promise lets the caller ask the router while it is still finding that address.
   */
  readonly publicMappedAddress?: PublicMappedAddress | Promise<PublicMappedAddress | undefined>;
  /** A host to trace the first routers toward (default: the --verify host), looking for a carrier-grade NAT hop. */
  readonly traceHost?: string;
  /**
   * Hold the trace until this settles: its probes cross the NAT and take mappings, so classify lets its own
   * port-allocation tests finish first (the router's own protocols never cross the NAT and run at once).
   */
  readonly traceAfter?: Promise<unknown>;
  readonly ssdpMulticast?: boolean;
  readonly udpBudgetMs?: number;
  /** Aborting (Ctrl-C) ends --verify early; its mapping is still removed. */
  readonly signal?: AbortSignal;
  /** Injected for tests. */
  readonly network?: UdpNetwork;
  readonly clock?: Clock;
  readonly http?: HttpExchange;
  readonly natPmpPort?: number;
  readonly ssdpPort?: number;
  readonly trace?: (host: string) => Promise<HopTrace>;
}

/** An address the internet sees this host at, and who saw it. */
export interface PublicMappedAddress {
  readonly address: string;
  readonly source: string;
}

/** What `gateway` returns and `natscope gateway --json` prints (schema "natscope.gateway/1"). */
export interface GatewayReport {
  readonly schema: 'natscope.gateway/1';
  /** The router's LAN address. */
  readonly gateway: string;
  /** This host's address toward it. */
  readonly localAddress: string | null;
  readonly upnp: UpnpFinding;
  readonly natPmp: NatPmpFinding;
  readonly pcp: PcpFinding;
  readonly verify: VerifyReport | null;
  readonly doubleNat: boolean | null;
  readonly carrierNat: boolean | null;
  /** The first routers toward the traced host (tracepath), when traced. */
  readonly hops: ReadonlyArray<{ readonly hop: number; readonly address: string }> | null;
  readonly reasons: readonly string[];
  readonly durationMs: number;
}

/** Asks the default gateway which port-mapping protocols it speaks, optionally proves a mapping, and looks for a second NAT. */
export async function gateway(options: GatewayOptions = {}): Promise<GatewayReport> {
  const clock = options.clock ?? systemClock;
  const network = options.network ?? nodeUdpNetwork;
  const http = options.http ?? boundedHttp;
  const started = clock.nowMs();
  const router = options.gateway ?? (await findDefaultGateway())?.gateway;
  if (router === undefined) throw new GatewayError('no IPv4 default gateway in the routing table (/proc/net/route); give one with --gateway');
  if (isIP(router) !== 4) throw new GatewayError(`the gateway must be an IPv4 address, not ${router}`);
  const natPmpPort = options.natPmpPort ?? NAT_PMP_PORT;
  const localAddress = (await network.routeSourceAddress?.(transportAddress(router, natPmpPort))) ?? null;

  let echoServer: TransportAddress | undefined;
  if (options.verify !== undefined) echoServer = (await resolveHost(parseHostPort(options.verify, 9199), 'IPv4'))[0];
  const traceHost = options.traceHost ?? echoServer?.address;
  const trace = options.trace ?? ((host: string) => traceHops(host));

  const [findings, hopTrace] = await Promise.all([
    probeGateway(network, clock, http, {
      gateway: router,
      ...(localAddress === null ? {} : { clientAddress: localAddress }),
      ...(options.udpBudgetMs === undefined ? {} : { udpBudgetMs: options.udpBudgetMs }),
      ...(options.ssdpMulticast === undefined ? {} : { ssdpMulticast: options.ssdpMulticast }),
      natPmpPort,
      ...(options.ssdpPort === undefined ? {} : { ssdpPort: options.ssdpPort }),
    }),
    traceHost === undefined ? Promise.resolve(undefined) : Promise.resolve(options.traceAfter).then(() => trace(traceHost)),
  ]);

  let verify: VerifyReport | null = null;
  if (echoServer !== undefined) {
    verify = await verifyMapping(network, clock, http, {
      gateway: router,
      clientAddress: localAddress ?? '0.0.0.0',
      echoServer,
      findings,
      natPmpPort,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  const routerExternalAddresses = [
    ...(findings.natPmp.externalAddress === null ? [] : [{ protocol: 'natPmp' as const, address: findings.natPmp.externalAddress }]),
    ...(findings.upnp.externalAddress === null ? [] : [{ protocol: 'upnp' as const, address: findings.upnp.externalAddress }]),
    ...(verify?.protocol === 'pcp' && verify.externalAddress !== null ? [{ protocol: 'pcp' as const, address: verify.externalAddress }] : []),
  ];
  const observed = verify?.observedAddress === null || verify === null ? undefined : { address: verify.observedAddress.replace(/:\d+$/, ''), source: `the echo server ${formatTransportAddress(echoServer!)} saw it` };
  const refusal = [
    findings.natPmp.available && findings.natPmp.resultCode === 3 ? 'NAT-PMP result 3, Network Failure' : undefined,
    findings.upnp.available && findings.upnp.externalAddress === null && findings.upnp.connected === false ? 'UPnP: no external address' : undefined,
  ].filter((r): r is string => r !== undefined);
  const publicMapped = (await options.publicMappedAddress) ?? observed;
  const verdict = decideDoubleNat({
    routerExternalAddresses,
    publicMappedAddress: publicMapped,
    pcpAddressMismatch: findings.pcp.resultCode === 12,
    routerRefusal: refusal.length === 0 ? undefined : refusal.join('; '),
    gateway: router,
    hops: hopTrace?.hops ?? [],
  });
  const reasons = [...verdict.reasons];
  if (hopTrace?.reason !== undefined) reasons.push(`route trace to ${traceHost}: ${hopTrace.reason}`);
  if (verdict.doubleNat === null && refusal.length > 0 && traceHost === undefined) {
    reasons.push('give --verify ECHO-HOST or --trace HOST: the address the internet sees and the next router after yours can tell');
  }
  return {
    schema: 'natscope.gateway/1',
    gateway: router,
    localAddress,
    upnp: inOrder(findings.upnp, UPNP_KEYS),
    natPmp: inOrder(findings.natPmp, NAT_PMP_KEYS),
    pcp: inOrder(findings.pcp, PCP_KEYS),
    verify: verify === null ? null : inOrder(verify, VERIFY_KEYS),
    doubleNat: verdict.doubleNat,
    carrierNat: verdict.carrierNat,
    hops: hopTrace === undefined ? null : hopTrace.hops,
    reasons,
    durationMs: Math.round(clock.nowMs() - started),
  };
}

// JSON reads best with the same field order every time: what a person looks for first.
const NAT_PMP_KEYS = ['available', 'canMap', 'externalAddress', 'reason', 'epoch', 'resultCode', 'rttMs'] as const;
const PCP_KEYS = ['available', 'externalAddress', 'reason', 'epoch', 'resultCode', 'resultName', 'rttMs'] as const;
const UPNP_KEYS = ['available', 'connected', 'externalAddress', 'reason', 'connectionStatus', 'deviceName', 'manufacturer', 'model', 'location', 'serviceType', 'controlUrl'] as const;

const VERIFY_KEYS = ['protocol', 'inboundArrived', 'reason', 'arrivedWithoutMapping', 'mappingRemoved', 'externalAddress', 'externalPort', 'internalPort', 'lifetimeSeconds', 'observedAddress', 'probeVia', 'refusals'] as const;

function inOrder<T extends object>(value: T, keys: readonly (keyof T)[]): T {
  return Object.fromEntries(keys.map((key) => [key, value[key]])) as T;
}
