import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { formatTransportAddress, sameIp } from '../codec/transport-address.js';
import type { LifetimeResult } from '../diagnose/lifetime-search.js';
import { HostResolutionError, InvalidArgumentError } from '../errors.js';
import { nodeUdpNetwork } from '../platform/node-udp.js';
import { parseHostPort, resolveHost } from '../platform/resolve-host.js';
import { systemClock } from '../platform/system-clock.js';
import type { Clock, UdpNetwork } from '../probe/ports.js';
import { punchAndMeasure, punchDeadlineMs, type MeasuredLifetime, type PunchProgress } from '../probe/punch.js';
import { RFC8489_DEFAULT_POLICY } from '../protocol/transaction.js';
import { roundTenth } from './classify.js';
import { classify, type ClassifyReport } from './classify.js';

/** The echo server's default port. */
export const DEFAULT_ECHO_PORT = 9199;

/** Options of `punch`. */
export interface PunchCommandOptions {
  /** "host[:port]" of a natscope echo server. */
  readonly server: string;
  /** The server's alternate port (null: do not test it); default main port + 1. */
  readonly alternatePort?: number | null;
  readonly family?: 4 | 6;
  readonly measureLifetime?: boolean;
  readonly measureSustained?: boolean;
  /** Also measure how long the server's other port may get in (only when it gets in at all). */
  readonly measureFilteringLifetime?: boolean;
  /** Classify first against this RFC 5780 STUN server ("host[:port]") and explain the outcome with it. */
  readonly classifyWith?: string;
  /** Bound of the lifetime search, seconds; default 600. */
  readonly maxLifetimeSeconds?: number;
  /** Most mappings held at once; default 64. */
  readonly maxMappings?: number;
  /** A classification to explain the outcome with (a `classify --json` report). */
  readonly assume?: Pick<ClassifyReport, 'mapping' | 'filtering' | 'rfc3489'>;
  readonly onProgress?: (progress: PunchProgress) => void;
  readonly network?: UdpNetwork;
  readonly clock?: Clock;
}

/** A lifetime as reported: the midpoint and the bracket, seconds. */
export interface LifetimeReport {
  readonly seconds: number;
  readonly lowerSeconds: number;
  readonly upperSeconds: number;
}

/** What `punch` returns and `natscope punch --json` prints (schema "natscope.punch/1"). */
export interface PunchReport {
  readonly schema: 'natscope.punch/1';
  readonly server: string;
  /**
   * True: the server answered through the hole. False: the server answered (another socket) but nothing came back
   * through this hole — a negative answer. Null: the server was not reached, or was busy — see `reason`.
   */
  readonly punched: boolean | null;
  /** Why the run is inconclusive (exit 3) or partial: not reached, busy, stopped answering, deadline; null when whole. */
  readonly reason: string | null;
  /** The echo server's BUSY refusal (reason, retry after), when it refused. */
  readonly busy: { readonly reason: string; readonly retryAfterMs: number } | null;
  readonly mappedAddress: string | null;
  /** Round trip of the first registration, ms to 0.1. */
  readonly rttMs: number | null;
  /** A probe from the server's other port got in through the hole (null: not tested). */
  readonly alternatePortReachable: boolean | null;
  /** Idle lifetime of a hole after a single exchange; null when not measured or still open at the bound. */
  readonly lifetime: LifetimeReport | null;
  /** Idle lifetime after sustained two-way traffic. */
  readonly sustainedLifetime: LifetimeReport | null;
  /** How long after the punch the server's other port may still get in (--filtering-lifetime); null otherwise. */
  readonly filteringLifetime: LifetimeReport | null;
  /** The classification used to explain the outcome (from --assume or --classify), if any. */
  readonly classification: Pick<ClassifyReport, 'mapping' | 'filtering' | 'rfc3489'> | null;
  /** True when a hole was still open at --max-lifetime (then the lifetime is null). */
  readonly openAtBound: { readonly lifetime: boolean; readonly sustainedLifetime: boolean };
  readonly maxLifetimeSeconds: number;
  /** A safe keepalive interval: 80% of the shortest lower bound, at least 1 s. */
  readonly keepaliveSeconds: number | null;
  /** Each search's raw result; `stoppedEarly` says why one ended before its tolerance (its bracket is then partial). */
  readonly search: { readonly lifetime: MeasuredLifetime | null; readonly sustainedLifetime: MeasuredLifetime | null; readonly filteringLifetime: MeasuredLifetime | null };
  /** The bound the run kept to, derived from --max-lifetime and --max-mappings (see README). */
  readonly deadlineSeconds: number;
  readonly explanation: string;
  readonly durationMs: number;
}

/** Reads a `classify --json` report to use as --assume. */
export function readAssumedClassification(path: string): Pick<ClassifyReport, 'mapping' | 'filtering' | 'rfc3489'> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InvalidArgumentError(`--assume ${path}: cannot read a classify --json report (${(error as Error).message})`);
  }
  const report = parsed as Partial<ClassifyReport>;
  if (typeof report.mapping !== 'string' || typeof report.filtering !== 'string' || typeof report.rfc3489 !== 'string') {
    throw new InvalidArgumentError(`--assume ${path}: not a classify --json report (mapping, filtering and rfc3489 missing)`);
  }
  return { mapping: report.mapping, filtering: report.filtering, rfc3489: report.rfc3489 };
}

/** Punches a hole to a natscope echo server and measures how long the NAT keeps it open. */
export async function punch(options: PunchCommandOptions): Promise<PunchReport> {
  const spec = parseHostPort(options.server, DEFAULT_ECHO_PORT);
  const family = (options.family ?? (isIP(spec.host) === 6 ? 6 : 4)) === 6 ? 'IPv6' : 'IPv4';
  const clock = options.clock ?? systemClock;
  const maxLifetimeSeconds = options.maxLifetimeSeconds ?? 600;
  if (!(maxLifetimeSeconds >= 1)) throw new InvalidArgumentError(`max lifetime must be at least 1 s, not ${maxLifetimeSeconds}`);
  const maxMappings = options.maxMappings ?? 64;
  if (!Number.isInteger(maxMappings) || maxMappings < 8) throw new InvalidArgumentError(`max mappings must be a whole number ≥ 8, not ${maxMappings}`);
  const addresses = await resolveHost(spec, family);
  const server = addresses[0];
  if (server === undefined) throw new HostResolutionError(spec.host, 'no address');
  const alternatePort = options.alternatePort === null ? undefined : (options.alternatePort ?? server.port + 1);
  const started = clock.nowMs();
  let assume = options.assume;
  if (assume === undefined && options.classifyWith !== undefined) {
    const classified = await classify({ servers: [options.classifyWith], family: family === 'IPv6' ? 6 : 4, ...(options.network === undefined ? {} : { network: options.network }), clock });
    assume = { mapping: classified.mapping, filtering: classified.filtering, rfc3489: classified.rfc3489 };
  }
  const sustainedTrafficMs = 3000;
  const deadlineMs = punchDeadlineMs({
    maxLifetimeMs: maxLifetimeSeconds * 1000,
    maxSockets: maxMappings,
    sustainedTrafficMs: (options.measureSustained ?? true) ? sustainedTrafficMs : 0,
    filtering: options.measureFilteringLifetime ?? false,
    policy: RFC8489_DEFAULT_POLICY,
  });
  const evidence = await punchAndMeasure({
    deadlineMs,
    sustainedTrafficMs,
    network: options.network ?? nodeUdpNetwork,
    clock,
    server,
    ...(alternatePort === undefined ? {} : { alternatePort }),
    family,
    measureLifetime: options.measureLifetime ?? true,
    measureSustained: options.measureSustained ?? true,
    measureFilteringLifetime: options.measureFilteringLifetime ?? false,
    search: { maxLifetimeMs: maxLifetimeSeconds * 1000, maxSockets: maxMappings },
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const lifetime = toReport(evidence.lifetime);
  const sustainedLifetime = toReport(evidence.sustainedLifetime);
  const lowers = [evidence.lifetime, evidence.sustainedLifetime].filter((r): r is MeasuredLifetime => r !== undefined && r.lowerMs > 0).map((r) => r.lowerMs / 1000);
  // RFC 4787 REQ-5 says a NAT keeps idle UDP mappings at least 2 minutes; real ones do not, hence a measured margin.
  const keepaliveSeconds = evidence.punched && lowers.length > 0 ? Math.max(1, Math.floor(0.8 * Math.min(...lowers))) : null;
  const report: Omit<PunchReport, 'explanation'> = {
    schema: 'natscope.punch/1',
    server: formatTransportAddress(server),
    punched: evidence.punched,
    reason: evidence.reason ?? null,
    busy: evidence.busy ?? null,
    mappedAddress: evidence.mappedAddress === undefined ? null : formatTransportAddress(evidence.mappedAddress),
    rttMs: evidence.rttMs === undefined ? null : roundTenth(evidence.rttMs),
    alternatePortReachable: evidence.alternatePortReachable,
    lifetime,
    sustainedLifetime,
    filteringLifetime: toReport(evidence.filteringLifetime),
    classification: assume ?? null,
    // Still open at the bound only when the search got there; a search stopped early knows less.
    openAtBound: {
      lifetime: evidence.lifetime?.upperMs === null && evidence.lifetime.stoppedEarly === undefined,
      sustainedLifetime: evidence.sustainedLifetime?.upperMs === null && evidence.sustainedLifetime.stoppedEarly === undefined,
    },
    maxLifetimeSeconds,
    keepaliveSeconds,
    search: { lifetime: roundSearch(evidence.lifetime), sustainedLifetime: roundSearch(evidence.sustainedLifetime), filteringLifetime: roundSearch(evidence.filteringLifetime) },
    deadlineSeconds: Math.round(deadlineMs / 1000),
    durationMs: roundTenth(clock.nowMs() - started),
  };
  // The mapped IP is one of this host's own: no NAT translated it, so the text must not say "through your NAT".
  const mappedIsOwn = evidence.mappedAddress !== undefined && (options.network ?? nodeUdpNetwork).localAddresses().some((ip) => sameIp(ip, evidence.mappedAddress!.address));
  return { ...report, explanation: explainPunch(report, assume, mappedIsOwn) };
}

function roundSearch(result: MeasuredLifetime | undefined): MeasuredLifetime | null {
  if (result === undefined) return null;
  return { ...result, lowerMs: roundTenth(result.lowerMs), upperMs: result.upperMs === null ? null : roundTenth(result.upperMs), elapsedMs: roundTenth(result.elapsedMs) };
}

function toReport(result: LifetimeResult | undefined): LifetimeReport | null {
  if (result === undefined || result.upperMs === null) return null;
  const round = (ms: number): number => Math.round(ms / 100) / 10;
  return { seconds: round((result.lowerMs + result.upperMs) / 2), lowerSeconds: round(result.lowerMs), upperSeconds: round(result.upperMs) };
}

/** The outcome in plain words. */
export function explainPunch(report: Omit<PunchReport, 'explanation'>, assume?: Pick<ClassifyReport, 'mapping' | 'filtering' | 'rfc3489'>, mappedIsOwn = false): string {
  const lines: string[] = [];
  if (report.punched === null) {
    const busy = report.busy !== null;
    lines.push(`${busy ? 'Server busy' : 'Could not reach the echo server'}: ${report.reason ?? 'no answer'}. Nothing is known about the hole.`);
    return lines.join(' ');
  }
  if (!report.punched) {
    lines.push(`The echo server ${report.server} answered another socket, but nothing came back through this hole: the NAT or a firewall drops the answers.`);
    return lines.join(' ');
  }
  lines.push(
    mappedIsOwn
      ? `The path works: ${report.server} answered from the port your datagram went to, and it saw this host's own address ${report.mappedAddress} (no NAT on the way).`
      : `The hole works: ${report.server} answered from the port your datagram went to, through your NAT (it saw you as ${report.mappedAddress}).`,
  );
  if (report.alternatePortReachable === true) {
    lines.push(`A reply from another port of the server got in too: ${mappedIsOwn ? 'nothing on the way filters' : 'your NAT does not filter'} by port.`);
  }
  if (report.alternatePortReachable === false) {
    lines.push(`A reply from another port of the server was dropped: ${mappedIsOwn ? 'a firewall on the way' : 'your NAT'} filters by address and port, so a peer must answer from the exact port you sent to.`);
  }
  const describe = (name: string, l: LifetimeReport | null, open: boolean): void => {
    if (l !== null) lines.push(`An idle hole ${name} closes after ${l.lowerSeconds}–${l.upperSeconds} s.`);
    else if (open) lines.push(`An idle hole ${name} was still open after ${report.maxLifetimeSeconds} s (the bound).`);
  };
  describe('after a single exchange', report.lifetime, report.openAtBound.lifetime);
  describe('after sustained two-way traffic', report.sustainedLifetime, report.openAtBound.sustainedLifetime);
  const partial = (name: string, l: LifetimeReport | null, search: MeasuredLifetime | null): void => {
    if (l === null && search?.stoppedEarly !== undefined && search.lowerMs > 0) lines.push(`An idle hole ${name} stayed open at least ${(search.lowerMs / 1000).toFixed(1)} s before the search stopped.`);
  };
  partial('after a single exchange', report.lifetime, report.search.lifetime);
  partial('after sustained two-way traffic', report.sustainedLifetime, report.search.sustainedLifetime);
  if (report.filteringLifetime !== null) {
    lines.push(`The server's other port could still get in for ${report.filteringLifetime.lowerSeconds}–${report.filteringLifetime.upperSeconds} s of idleness.`);
  }
  if (report.reason !== null) lines.push(`The measurement is partial: ${report.reason}; what is said above is what was learned until then.`);
  if (report.keepaliveSeconds !== null) lines.push(`Send a keepalive at least every ${report.keepaliveSeconds} s to keep holes open.`);
  if (assume !== undefined) {
    if (assume.mapping === 'endpoint-independent') {
      lines.push(`Your NAT is ${assume.rfc3489}: its mapping is the same for every peer, so peers can learn your address from a server and punch through.`);
    } else if (assume.mapping !== 'unknown') {
      lines.push(`Your NAT is ${assume.rfc3489}: it maps each destination anew, so a peer cannot learn your address from a server; punching to another peer works only if that peer's NAT does not filter by port.`);
    }
  }
  return lines.join(' ');
}
