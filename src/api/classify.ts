import { isIP } from 'node:net';
import { formatTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import { classifyNat } from '../diagnose/classify-nat.js';
import type { BindingObservation, NatEvidence } from '../diagnose/evidence.js';
import type { NatVerdict } from '../diagnose/verdict.js';
import { HostResolutionError, InvalidArgumentError } from '../errors.js';
import { nodeUdpNetwork } from '../platform/node-udp.js';
import { parseHostPort, resolveHost } from '../platform/resolve-host.js';
import { systemClock } from '../platform/system-clock.js';
import { gatherNatEvidence } from '../probe/gather-nat-evidence.js';
import type { Clock, UdpNetwork } from '../probe/ports.js';
import type { RtoBounds } from '../protocol/rto-estimator.js';
import { RFC8489_DEFAULT_POLICY, type RetransmissionPolicy } from '../protocol/transaction.js';
import { DEFAULT_STUN_SERVERS } from './default-servers.js';

/** Options of `classify`. */
export interface ClassifyOptions {
  /** "host[:port]" of STUN servers, most preferred first; default: the built-in public list. */
  readonly servers?: readonly string[];
  /** IP version; default 4. */
  readonly family?: 4 | 6;
  /** RFC 8489 §6.2.1 parameters of the first contact; default RTO 500 ms, Rc 7, Rm 16. */
  readonly policy?: Partial<RetransmissionPolicy>;
  readonly rtoBounds?: RtoBounds;
  readonly onProgress?: (stage: string) => void;
  /** Fresh sockets whose first mappings show the port allocation (default 3; p2p asks for more to see a stride). */
  readonly allocationSockets?: number;
  /** Injected for tests; default node:dgram. */
  readonly network?: UdpNetwork;
  /** Injected for tests; default the system clock. */
  readonly clock?: Clock;
}

/** One test's evidence as reported in JSON: addresses as "ip:port" strings. */
export interface TestRecord {
  readonly test: string;
  readonly local: string;
  readonly destination: string;
  readonly changeRequest: { readonly changeIp: boolean; readonly changePort: boolean } | null;
  readonly outcome: BindingObservation['outcome'];
  readonly attempts: number;
  readonly elapsedMs: number;
  readonly rttMs: number | null;
  readonly responseFrom: string | null;
  readonly xorMappedAddress: string | null;
  readonly mappedAddress: string | null;
  readonly otherAddress: string | null;
  readonly responseOrigin: string | null;
  readonly errorCode: number | null;
}

/** What `classify` returns and `natscope classify --json` prints (schema "natscope.classify/1"). */
export interface ClassifyReport extends NatVerdict {
  readonly schema: 'natscope.classify/1';
  /** The RFC 5780 server (or the first to answer) as "ip:port". */
  readonly server: string | null;
  /** The host name the server was given as, when it was a name. */
  readonly serverName: string | null;
  /** True when the server sent OTHER-ADDRESS (RFC 5780 §7.4). */
  readonly serverSupportsRfc5780: boolean | null;
  /** This host's address and port of the mapping test socket. */
  readonly localAddress: string | null;
  readonly durationMs: number;
  readonly tests: readonly TestRecord[];
  readonly hairpinTest: { readonly attempts: number; readonly received: boolean } | null;
  readonly unreachableServers: readonly string[];
  readonly unresolvedServers: readonly string[];
}

/** Classifies the NAT between this host and the STUN servers (RFC 5780 §4). */
export async function classify(options: ClassifyOptions = {}): Promise<ClassifyReport> {
  if (options.family !== undefined && options.family !== 4 && options.family !== 6) {
    throw new InvalidArgumentError(`family must be 4 or 6, not ${String(options.family)}`);
  }
  const clock = options.clock ?? systemClock;
  const network = options.network ?? nodeUdpNetwork;
  const started = clock.nowMs();
  const named = options.servers !== undefined && options.servers.length > 0;
  const specs = (named ? options.servers! : DEFAULT_STUN_SERVERS).map((text) => parseHostPort(text, 3478));
  // Servers given as IPv6 literals imply IPv6 unless the family is said.
  const family = (options.family ?? (specs.every((s) => isIP(s.host) === 6) ? 6 : 4)) === 6 ? 'IPv6' : 'IPv4';

  options.onProgress?.(`resolving ${specs.length} server name${specs.length === 1 ? '' : 's'}`);
  const resolved = await Promise.allSettled(specs.map((spec) => resolveHost(spec, family)));
  const names = new Map<string, string>();
  const servers: TransportAddress[] = [];
  const unresolved: string[] = [];
  resolved.forEach((result, i) => {
    const spec = specs[i]!;
    if (result.status === 'rejected') {
      unresolved.push(spec.host);
      return;
    }
    // One address per name: the first, as the resolver ordered them.
    const address = result.value[0]!;
    if (!servers.some((s) => formatTransportAddress(s) === formatTransportAddress(address))) {
      servers.push(address);
      names.set(formatTransportAddress(address), spec.host);
    }
  });
  if (servers.length === 0) {
    const reason = resolved.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as Error | undefined;
    if (specs.length === 1 && reason instanceof HostResolutionError) throw reason;
    throw new HostResolutionError(specs.map((s) => s.host).join(', '), `none of the ${specs.length} servers resolved to an IPv${family === 'IPv6' ? 6 : 4} address`, { cause: reason });
  }

  const evidence = await gatherNatEvidence({
    network,
    clock,
    servers,
    family,
    policy: { ...RFC8489_DEFAULT_POLICY, ...options.policy },
    ...(options.rtoBounds === undefined ? {} : { rtoBounds: options.rtoBounds }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(options.allocationSockets === undefined ? {} : { allocationSockets: options.allocationSockets }),
  });
  const verdict = classifyNat(evidence);
  const durationMs = clock.nowMs() - started;
  const testI = evidence.mappingTestI;
  const localIp = testI === undefined ? undefined : await network.routeSourceAddress?.(testI.destination);
  const local = testI === undefined ? undefined : localIp === undefined ? testI.local : { ...testI.local, address: localIp };
  return buildReport(verdict, evidence, local, names, unresolved, durationMs);
}

function buildReport(
  verdict: NatVerdict,
  evidence: NatEvidence,
  local: TransportAddress | undefined,
  names: Map<string, string>,
  unresolved: string[],
  durationMs: number,
): ClassifyReport {
  const server = evidence.mappingTestI?.outcome === 'response' ? evidence.mappingTestI.destination : undefined;
  const serverText = server === undefined ? null : formatTransportAddress(server);
  const serverName = serverText === null ? null : (names.get(serverText) ?? null);
  const observations = [
    evidence.mappingTestI,
    ...(evidence.comparisons ?? []),
    evidence.mappingTestII,
    evidence.mappingTestIII,
    evidence.filteringTestII,
    evidence.filteringTestIII,
    ...(evidence.allocationSamples ?? []),
  ].filter((o): o is BindingObservation => o !== undefined);
  return {
    schema: 'natscope.classify/1',
    ...verdict,
    server: serverText,
    serverName: serverName !== null && serverName !== server?.address ? serverName : null,
    serverSupportsRfc5780: server === undefined ? null : evidence.mappingTestI?.otherAddress !== undefined,
    localAddress: local === undefined ? null : formatTransportAddress(local),
    durationMs: Math.round(durationMs),
    tests: observations.map(toRecord),
    hairpinTest: evidence.hairpinning === undefined ? null : { attempts: evidence.hairpinning.attempts, received: evidence.hairpinning.received },
    unreachableServers: (evidence.unreachable ?? []).map(formatTransportAddress),
    unresolvedServers: unresolved,
  };
}

function toRecord(o: BindingObservation): TestRecord {
  const text = (a: TransportAddress | undefined): string | null => (a === undefined ? null : formatTransportAddress(a));
  return {
    test: o.test,
    local: formatTransportAddress(o.local),
    destination: formatTransportAddress(o.destination),
    changeRequest: o.changeRequest ?? null,
    outcome: o.outcome,
    attempts: o.attempts,
    elapsedMs: Math.round(o.elapsedMs * 10) / 10,
    rttMs: o.rttMs === undefined ? null : Math.round(o.rttMs * 100) / 100,
    responseFrom: text(o.responseFrom),
    xorMappedAddress: text(o.xorMappedAddress),
    mappedAddress: text(o.mappedAddress),
    otherAddress: text(o.otherAddress),
    responseOrigin: text(o.responseOrigin),
    errorCode: o.errorCode ?? null,
  };
}
