import { randomBytes } from 'node:crypto';
import { formatTransportAddress, sameIp, type TransportAddress } from '../codec/transport-address.js';
import { decodeEchoMessage, isEchoControl, type ProbeVia } from '../protocol/echo-messages.js';
import type { RetransmissionPolicy } from '../protocol/transaction.js';
import type { HttpExchange } from '../platform/bounded-http.js';
import { EchoClient, type EchoBusy } from './echo-client.js';
import type { GatewayFindings } from './gateway-probe.js';
import { requestUdpMapping, type GrantedMapping, type MappingProtocol } from './port-mapping-client.js';
import type { Clock, UdpNetwork, UdpSocket } from './ports.js';

/** What `--verify` found: did a datagram sent to the mapping, from an address never contacted, arrive? */
export interface VerifyReport {
  /** The protocol that made the mapping, or null when none could. */
  readonly protocol: MappingProtocol | null;
  readonly internalPort: number | null;
  readonly externalAddress: string | null;
  readonly externalPort: number | null;
  readonly lifetimeSeconds: number | null;
  /** The socket's address as the echo server saw it ("ip:port"), when it answered. */
  readonly observedAddress: string | null;
  /** Which echo-server socket sent the probe: another address (best) or another port of the same address. */
  readonly probeVia: ProbeVia | null;
  /** true: it arrived; false: it did not (or no mapping could be made); null: the test could not be run. */
  readonly inboundArrived: boolean | null;
  /** The mapping was deleted again and the router confirmed (null when none was made). */
  readonly mappingRemoved: boolean | null;
  /** The control: did the same kind of probe reach a second socket that had no mapping? false shows it was the mapping that let traffic in. */
  readonly arrivedWithoutMapping: boolean | null;
  readonly reason: string;
  /** Each protocol tried, and why it gave no mapping. */
  readonly refusals: ReadonlyArray<{ readonly protocol: MappingProtocol; readonly reason: string }>;
}

/** Inputs of the verification. */
export interface VerifyOptions {
  readonly gateway: string;
  readonly clientAddress: string;
  readonly echoServer: TransportAddress;
  readonly findings: GatewayFindings;
  /** The lease asked for: short, the mapping is deleted at the end anyway. */
  readonly lifetimeSeconds?: number;
  /** How long to wait for the probe to come in, ms. */
  readonly probeWaitMs?: number;
  readonly natPmpPort?: number;
  /** Aborting (Ctrl-C) stops waiting; the mapping is still removed. */
  readonly signal?: AbortSignal;
}

/** Verification defaults: a 30 s lease outlives the ~2 s test, and is gone soon if deletion is lost. */
export const DEFAULT_VERIFY = { lifetimeSeconds: 30, probeWaitMs: 1_000, routerTimeoutMs: 2_000 } as const;

const ECHO_POLICY: RetransmissionPolicy = { rtoMs: 250, rc: 4, rm: 4 };

/** The order to try: protocols that say they can map first, NAT-PMP, then PCP, then UPnP. */
export function mappingCandidates(findings: GatewayFindings): MappingProtocol[] {
  const ready: MappingProtocol[] = [];
  const answering: MappingProtocol[] = [];
  const sort = (protocol: MappingProtocol, available: boolean, canMap: boolean | null): void => {
    if (!available) return;
    (canMap === true ? ready : answering).push(protocol);
  };
  sort('natPmp', findings.natPmp.available, findings.natPmp.canMap);
  sort('pcp', findings.pcp.available, findings.pcp.resultCode === 0 ? true : false);
  sort('upnp', findings.upnp.available, findings.upnp.connected);
  return [...ready, ...answering];
}

/** Wraps a socket so PROBE messages (checked by their nonce) reach `onProbe` from any source; the rest go on. */
function interceptProbes(socket: UdpSocket, onProbe: (nonceHex: string, from: TransportAddress) => void): UdpSocket {
  return {
    local: socket.local,
    send: (bytes, to) => socket.send(bytes, to),
    close: () => socket.close(),
    onDatagram(receiver) {
      socket.onDatagram((bytes, from) => {
        if (isEchoControl(bytes)) {
          const message = decodeEchoMessage(bytes);
          if (message?.type === 'probe') {
            onProbe(Buffer.from(message.nonce).toString('hex'), from);
            return;
          }
        }
        receiver(bytes, from);
      });
    },
  };
}

/**
 * Makes one short-lived UDP mapping, registers the mapped socket with natscope's echo server (so the server
 * learns the address the internet sees, through the mapping), asks for a probe from a socket this host never
 * sent to, and reports whether it arrived. The mapping is always removed.
 */
export async function verifyMapping(network: UdpNetwork, clock: Clock, http: HttpExchange, options: VerifyOptions): Promise<VerifyReport> {
  const refusals: Array<{ protocol: MappingProtocol; reason: string }> = [];
  const empty = { protocol: null, internalPort: null, externalAddress: null, externalPort: null, lifetimeSeconds: null, probeVia: null, mappingRemoved: null, arrivedWithoutMapping: null, refusals };
  const candidates = mappingCandidates(options.findings);
  const raw = await network.bind('IPv4');
  const arrivals = new Map<string, TransportAddress>();
  let probeListener: ((nonceHex: string) => void) | undefined;
  const socket = interceptProbes(raw, (nonceHex, from) => {
    arrivals.set(nonceHex, from);
    probeListener?.(nonceHex);
  });
  const echo = new EchoClient(socket, clock, options.echoServer);
  let mapping: GrantedMapping | undefined;
  const run = async (): Promise<VerifyReport> => {
    for (const protocol of candidates) {
      if (options.signal?.aborted === true) break;
      const upnp = options.findings.upnp.serviceType !== null && options.findings.upnp.controlUrl !== null ? { serviceType: options.findings.upnp.serviceType, controlUrl: options.findings.upnp.controlUrl } : undefined;
      const result = await requestUdpMapping(protocol, network, clock, http, {
        gateway: options.gateway,
        clientAddress: options.clientAddress,
        internalPort: raw.local.port,
        lifetimeSeconds: options.lifetimeSeconds ?? DEFAULT_VERIFY.lifetimeSeconds,
        timeoutMs: DEFAULT_VERIFY.routerTimeoutMs,
        ...(options.natPmpPort === undefined ? {} : { natPmpPort: options.natPmpPort }),
        ...(upnp === undefined ? {} : { upnp }),
      });
      if ('refused' in result) {
        refusals.push({ protocol, reason: result.reason });
        continue;
      }
      mapping = result;
      break;
    }
    // Registering through the mapped socket tells the address the internet sees it at (evidence either way).
    const registration = await untilAborted(echo.register(ECHO_POLICY), options.signal);
    const observedAddress = registration === undefined ? null : formatTransportAddress(registration.observed);
    if (mapping === undefined) {
      const why = candidates.length === 0 ? 'no port-mapping protocol answers on the router' : `the router made no mapping: ${refusals.map((r) => `${r.protocol}: ${r.reason}`).join('; ')}`;
      return { ...empty, observedAddress, inboundArrived: false, reason: `nothing can come in through a router mapping: ${why}` };
    }
    const externalAddress = mapping.externalAddress ?? options.findings.natPmp.externalAddress ?? options.findings.upnp.externalAddress;
    const made = {
      protocol: mapping.protocol,
      internalPort: mapping.internalPort,
      externalAddress,
      externalPort: mapping.externalPort,
      lifetimeSeconds: mapping.lifetimeSeconds,
      refusals,
      observedAddress,
      arrivedWithoutMapping: null,
    };
    const mappedText = `${externalAddress ?? '?'}:${mapping.externalPort}`;
    if (registration === undefined) {
      if (options.signal?.aborted === true) return { ...made, probeVia: null, mappingRemoved: null, inboundArrived: null, reason: `stopped (interrupted) after the mapping ${mappedText} was made, before anything was sent to it` };
      return { ...made, probeVia: null, mappingRemoved: null, inboundArrived: null, reason: `the mapping ${mappedText} was made, but the echo server at ${formatTransportAddress(options.echoServer)} did not answer, so nothing could be sent to it` };
    }
    const observed = registration.observed;
    const behindAnotherNat = externalAddress !== null && !sameIp(observed.address, externalAddress);
    // Ask for the probe from another address of the server; a server without one sends from its other port.
    let via: ProbeVia = 'alternate-address';
    let answer = await echo.requestProbe(ECHO_POLICY, registration, via, 0);
    if (isRefusedAck(answer)) {
      via = 'alternate-port';
      answer = await echo.requestProbe(ECHO_POLICY, registration, via, 0);
    }
    const ack = acceptedAck(answer);
    if (ack === undefined) {
      const why = isBusy(answer) ? `the echo server is busy (${answer.reason}; retry after ${(answer.retryAfterMs / 1000).toFixed(1)} s)` : 'the echo server would not send a probe (it needs an alternate port or address)';
      return { ...made, probeVia: null, mappingRemoved: null, inboundArrived: null, reason: why };
    }
    const nonceHex = Buffer.from(ack.nonce).toString('hex');
    const arrived = arrivals.has(nonceHex) || (await waitForProbe(clock, nonceHex, options.probeWaitMs ?? DEFAULT_VERIFY.probeWaitMs, options.signal, (listener) => (probeListener = listener)));
    const from = via === 'alternate-address' ? 'another address of the echo server' : "the echo server's other port (it has no alternate address, so a NAT that filters by address only would let this in anyway)";
    if (behindAnotherNat) {
      return {
        ...made,
        probeVia: via,
        mappingRemoved: null,
        inboundArrived: false,
        reason: `the router mapped ${mappedText}, but the internet sees this socket as ${formatTransportAddress(observed)}: another NAT above the router owns the public address, so nobody outside can reach the mapping (a probe to ${formatTransportAddress(observed)} from ${from} ${arrived ? 'did arrive: that outer NAT lets unsolicited traffic in' : 'did not arrive'})`,
      };
    }
    if (observed.port !== mapping.externalPort) {
      return { ...made, probeVia: via, mappingRemoved: null, inboundArrived: null, reason: `the mapped socket's traffic left on port ${observed.port}, not the mapped port ${mapping.externalPort}, so the echo server could not be asked to send to the mapping` };
    }
    return {
      ...made,
      probeVia: via,
      mappingRemoved: null,
      inboundArrived: arrived,
      reason: arrived
        ? `a datagram from ${from} to the mapping ${mappedText} arrived: the router honours the ${mapping.protocol} mapping`
        : `a datagram from ${from} to the mapping ${mappedText} did not arrive within ${options.probeWaitMs ?? DEFAULT_VERIFY.probeWaitMs} ms: the router granted the mapping but does not let traffic in through it`,
    };
  };
  const control = controlProbe(network, clock, options.echoServer, options.probeWaitMs ?? DEFAULT_VERIFY.probeWaitMs, options.signal);
  let report: VerifyReport | undefined;
  try {
    report = await run();
  } finally {
    // Always, also after an error or Ctrl-C: natscope leaves no mapping behind.
    const removed = mapping === undefined ? null : await mapping.remove().catch(() => false);
    if (report !== undefined) report = { ...report, mappingRemoved: removed };
    echo.close();
  }
  const arrivedWithoutMapping = await control;
  if (report.inboundArrived === true && arrivedWithoutMapping === true) {
    return {
      ...report,
      arrivedWithoutMapping,
      reason: `${report.reason}; but a probe to another socket that had no mapping arrived too, so this NAT lets unsolicited traffic in anyway and the test says nothing about the mapping`,
    };
  }
  return { ...report, arrivedWithoutMapping };
}

/**
 * The control: a second socket with no mapping registers and asks for the same kind of probe. If that one gets in
 * too, the NAT admits unsolicited traffic anyway and the mapping test proves nothing. (A second probe to the
 * mapped port after deletion would not do: the first probe's conntrack flow outlives the mapping.)
 */
async function controlProbe(network: UdpNetwork, clock: Clock, echoServer: TransportAddress, waitMs: number, signal: AbortSignal | undefined): Promise<boolean | null> {
  const raw = await network.bind('IPv4');
  const arrivals = new Set<string>();
  let listener: ((nonceHex: string) => void) | undefined;
  const echo = new EchoClient(
    interceptProbes(raw, (nonceHex) => {
      arrivals.add(nonceHex);
      listener?.(nonceHex);
    }),
    clock,
    echoServer,
  );
  try {
    const registration = await untilAborted(echo.register(ECHO_POLICY), signal);
    if (registration === undefined) return null;
    let answer = await echo.requestProbe(ECHO_POLICY, registration, 'alternate-address', 0);
    if (isRefusedAck(answer)) answer = await echo.requestProbe(ECHO_POLICY, registration, 'alternate-port', 0);
    const ack = acceptedAck(answer);
    if (ack === undefined) return null;
    const nonceHex = Buffer.from(ack.nonce).toString('hex');
    return arrivals.has(nonceHex) || (await waitForProbe(clock, nonceHex, waitMs, signal, (l) => (listener = l)));
  } finally {
    echo.close();
  }
}

type ProbeAnswer = Awaited<ReturnType<EchoClient['requestProbe']>>;
type ProbeAck = { readonly nonce: Uint8Array; readonly accepted: boolean };
const isBusy = (answer: ProbeAnswer): answer is EchoBusy => typeof answer === 'object' && 'type' in answer && answer.type === 'busy';
const isAck = (answer: ProbeAnswer): answer is ProbeAnswer & ProbeAck => typeof answer === 'object' && 'accepted' in answer;
/** The server answered but would not probe that way (no such socket): worth trying the other way. */
const isRefusedAck = (answer: ProbeAnswer): boolean => isAck(answer) && !answer.accepted;
const acceptedAck = (answer: ProbeAnswer): ProbeAck | undefined => (isAck(answer) && answer.accepted ? answer : undefined);

/** Resolves with `promise`, or with undefined as soon as `signal` aborts (Ctrl-C must not wait for retransmissions). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.resolve(undefined);
  return Promise.race([promise, new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true }))]);
}

function waitForProbe(clock: Clock, nonceHex: string, waitMs: number, signal: AbortSignal | undefined, listen: (listener: (nonce: string) => void) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const cancel = clock.setTimer(waitMs, () => resolve(false));
    signal?.addEventListener('abort', () => {
      cancel();
      resolve(false);
    }, { once: true });
    listen((nonce) => {
      if (nonce !== nonceHex) return;
      cancel();
      resolve(true);
    });
  });
}

/** A random 16-byte echo token (exported for tests that fake the server). */
export function newEchoToken(): Uint8Array {
  return new Uint8Array(randomBytes(16));
}
