import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import {
  decodeNatPmpResponse,
  encodeNatPmpExternalAddressRequest,
  NAT_PMP_PORT,
  natPmpResultName,
} from '../codec/natpmp.js';
import { PcpOpcode, PcpResultCode, pcpResultName } from '../codec/pcp/constants.js';
import { decodePcpResponse, encodePcpRequest, isPcpDecodeFailure } from '../codec/pcp/messages.js';
import { decodeSsdpResponse, encodeSsdpSearch, SSDP_MULTICAST_ADDRESS, SSDP_PORT } from '../codec/ssdp.js';
import { sameIp, transportAddress, type TransportAddress } from '../codec/transport-address.js';
import { decodeSoapResponse, encodeSoapAction, parseIgdDescription } from '../codec/upnp-igd.js';
import { natPmpSchedule, pcpSchedule } from '../protocol/port-mapping-transaction.js';
import type { HttpExchange } from '../platform/bounded-http.js';
import { exchangeWithRouter } from './port-mapping-exchange.js';
import type { Clock, UdpNetwork } from './ports.js';

/** What NAT-PMP said (RFC 6886). */
export interface NatPmpFinding {
  /** The router answers NAT-PMP (any result code). */
  readonly available: boolean;
  /** True when the router says it can map (result 0); false when it answered with an error; null with no answer. */
  readonly canMap: boolean | null;
  readonly externalAddress: string | null;
  readonly epoch: number | null;
  readonly resultCode: number | null;
  readonly reason: string;
  readonly rttMs: number | null;
}

/** What PCP said (RFC 6887). ANNOUNCE carries no external address; a MAP (only with --verify) does. */
export interface PcpFinding {
  readonly available: boolean;
  readonly externalAddress: string | null;
  readonly epoch: number | null;
  readonly resultCode: number | null;
  readonly resultName: string | null;
  readonly reason: string;
  readonly rttMs: number | null;
}

/** What UPnP-IGD said. */
export interface UpnpFinding {
  /** An InternetGatewayDevice answered SSDP and described a WAN connection service. */
  readonly available: boolean;
  /** The WAN connection is up and has a usable external address (what upnpc calls a "valid IGD"). */
  readonly connected: boolean | null;
  readonly externalAddress: string | null;
  readonly connectionStatus: string | null;
  readonly deviceName: string | null;
  readonly manufacturer: string | null;
  readonly model: string | null;
  readonly location: string | null;
  readonly serviceType: string | null;
  readonly controlUrl: string | null;
  readonly reason: string;
}

/** The three findings. */
export interface GatewayFindings {
  readonly upnp: UpnpFinding;
  readonly natPmp: NatPmpFinding;
  readonly pcp: PcpFinding;
}

/** Where and how long to probe. */
export interface GatewayProbeOptions {
  /** The router's LAN address (the default gateway). */
  readonly gateway: string;
  /** This host's address toward the gateway (PCP's client address, RFC 6887 §8.1); found by routing if not given. */
  readonly clientAddress?: string;
  /** How long to wait for UDP answers, ms (HTTP to a found device gets its own bound). */
  readonly udpBudgetMs?: number;
  /** Also send the SSDP search to 239.255.255.250 (default true). */
  readonly ssdpMulticast?: boolean;
  /** Ports, for tests against fake routers on loopback. */
  readonly natPmpPort?: number;
  readonly ssdpPort?: number;
  readonly random?: () => number;
}

/** Gateway probe defaults. */
export const DEFAULT_GATEWAY_PROBE = { udpBudgetMs: 800 } as const;

/** Asks the router about NAT-PMP, PCP and UPnP-IGD at once; never throws for anything the router does. */
export async function probeGateway(network: UdpNetwork, clock: Clock, http: HttpExchange, options: GatewayProbeOptions): Promise<GatewayFindings> {
  const [natPmp, pcp, upnp] = await Promise.all([probeNatPmp(network, clock, options), probePcp(network, clock, options), probeUpnp(network, clock, http, options)]);
  return { upnp, natPmp, pcp };
}

const NO_NAT_PMP = (reason: string): NatPmpFinding => ({ available: false, canMap: null, externalAddress: null, epoch: null, resultCode: null, reason, rttMs: null });

/** NAT-PMP external address request (RFC 6886 §3.2), retransmitted per §3.1 within the budget. */
export async function probeNatPmp(network: UdpNetwork, clock: Clock, options: GatewayProbeOptions): Promise<NatPmpFinding> {
  const server = transportAddress(options.gateway, options.natPmpPort ?? NAT_PMP_PORT);
  const socket = await network.bind('IPv4');
  try {
    let malformed: string | undefined;
    const outcome = await exchangeWithRouter(socket, clock, server, encodeNatPmpExternalAddressRequest(), natPmpSchedule, clock.nowMs() + (options.udpBudgetMs ?? DEFAULT_GATEWAY_PROBE.udpBudgetMs), (bytes) => {
      const decoded = decodeNatPmpResponse(bytes);
      if (decoded.type === 'malformed') {
        malformed = decoded.reason;
        return undefined;
      }
      return decoded.type === 'map' ? undefined : decoded;
    });
    if (outcome.type === 'no-answer') {
      return NO_NAT_PMP(malformed === undefined ? `no NAT-PMP answer from ${options.gateway}:${server.port} in ${Math.round(outcome.waitedMs)} ms (${outcome.sends} requests)` : `only malformed NAT-PMP replies: ${malformed}`);
    }
    const answer = outcome.value;
    const base = { available: true, epoch: answer.epochSeconds, resultCode: answer.resultCode, rttMs: Math.round(outcome.rttMs * 100) / 100 };
    if (answer.resultCode !== 0) {
      return { ...base, canMap: false, externalAddress: null, reason: explainNatPmpResult(answer.resultCode) };
    }
    if (answer.type !== 'external-address') return { ...base, canMap: false, externalAddress: null, reason: 'a NAT-PMP answer without an address' };
    if (answer.externalAddress === '0.0.0.0') {
      // RFC 6886 §3.2: 0.0.0.0 means the router has no external address yet.
      return { ...base, canMap: false, externalAddress: null, reason: 'NAT-PMP answers, but the router has no external address (0.0.0.0): its WAN link is down' };
    }
    return { ...base, canMap: true, externalAddress: answer.externalAddress, reason: `NAT-PMP answers: external address ${answer.externalAddress}` };
  } finally {
    socket.close();
  }
}

/** Words for a NAT-PMP error result (RFC 6886 §3.5). */
export function explainNatPmpResult(code: number): string {
  const named = `NAT-PMP answers with result ${code} (${natPmpResultName(code)})`;
  switch (code) {
    case 1:
      return `${named}: the router speaks another version`;
    case 2:
      return `${named}: the router has port mapping switched off or forbids it for this host`;
    case 3:
      return `${named}: the router has no usable public address to map on — routers say so when their own WAN address is private or reserved, which is what happens behind another NAT`;
    case 4:
      return `${named}: the router has no ports left to map`;
    default:
      return named;
  }
}

const NO_PCP = (reason: string): PcpFinding => ({ available: false, externalAddress: null, epoch: null, resultCode: null, resultName: null, reason, rttMs: null });

/** This host's source address toward the gateway, for PCP's client address field. */
async function clientAddressFor(network: UdpNetwork, options: GatewayProbeOptions): Promise<string | undefined> {
  if (options.clientAddress !== undefined) return options.clientAddress;
  return network.routeSourceAddress?.(transportAddress(options.gateway, options.natPmpPort ?? NAT_PMP_PORT));
}

/** PCP ANNOUNCE (RFC 6887 §14.1), retransmitted per §8.1.1 within the budget. */
export async function probePcp(network: UdpNetwork, clock: Clock, options: GatewayProbeOptions): Promise<PcpFinding> {
  const clientAddress = await clientAddressFor(network, options);
  if (clientAddress === undefined || isIP(clientAddress) === 0) return NO_PCP(`cannot tell this host's address toward ${options.gateway} (PCP needs it)`);
  const server = transportAddress(options.gateway, options.natPmpPort ?? NAT_PMP_PORT);
  const socket = await network.bind('IPv4');
  try {
    let malformed: string | undefined;
    let natPmpOnly = false;
    const outcome = await exchangeWithRouter(
      socket,
      clock,
      server,
      encodePcpRequest({ opcode: 'announce', clientAddress }),
      pcpSchedule(options.random ?? Math.random),
      clock.nowMs() + (options.udpBudgetMs ?? DEFAULT_GATEWAY_PROBE.udpBudgetMs),
      (bytes) => {
        const decoded = decodePcpResponse(bytes);
        if (isPcpDecodeFailure(decoded)) {
          // RFC 6887 §9: a NAT-PMP-only server answers a PCP request with version 0, "Unsupported Version".
          if (decoded.natPmpVersion === true && bytes.length >= 4) natPmpOnly = true;
          else malformed = decoded.reason;
          return natPmpOnly ? ('nat-pmp-only' as const) : undefined;
        }
        return decoded.opcode === PcpOpcode.ANNOUNCE ? decoded : undefined;
      },
    );
    if (outcome.type === 'no-answer') {
      return NO_PCP(malformed === undefined ? `no PCP answer from ${options.gateway}:${server.port} in ${Math.round(outcome.waitedMs)} ms (${outcome.sends} request${outcome.sends === 1 ? '' : 's'}; RFC 6887 waits 3 s before resending)` : `only malformed PCP replies: ${malformed}`);
    }
    if (outcome.value === 'nat-pmp-only') return NO_PCP('the router answered PCP with NAT-PMP "Unsupported Version": it speaks NAT-PMP only');
    const answer = outcome.value;
    const name = pcpResultName(answer.resultCode);
    const base = { epoch: answer.epochSeconds, resultCode: answer.resultCode, resultName: name, rttMs: Math.round(outcome.rttMs * 100) / 100, externalAddress: null };
    if (answer.resultCode === PcpResultCode.SUCCESS) return { ...base, available: true, reason: 'PCP answers ANNOUNCE (SUCCESS); ANNOUNCE carries no external address' };
    if (answer.resultCode === PcpResultCode.ADDRESS_MISMATCH) {
      return { ...base, available: true, reason: `PCP answers ${name}: the server saw this host from another address than ${clientAddress}, so a NAT lies between them` };
    }
    if (answer.resultCode === PcpResultCode.UNSUPP_OPCODE) return { ...base, available: true, reason: `PCP answers ${name} to ANNOUNCE: the server speaks PCP but not ANNOUNCE` };
    return { ...base, available: true, reason: `PCP answers ${name} (result ${answer.resultCode})` };
  } finally {
    socket.close();
  }
}

const NO_UPNP = (reason: string, partial: Partial<UpnpFinding> = {}): UpnpFinding => ({
  available: false,
  connected: null,
  externalAddress: null,
  connectionStatus: null,
  deviceName: null,
  manufacturer: null,
  model: null,
  location: null,
  serviceType: null,
  controlUrl: null,
  reason,
  ...partial,
});

/** SSDP search for an InternetGatewayDevice (unicast to the gateway, and multicast), then description and SOAP. */
export async function probeUpnp(network: UdpNetwork, clock: Clock, http: HttpExchange, options: GatewayProbeOptions): Promise<UpnpFinding> {
  const ssdpPort = options.ssdpPort ?? SSDP_PORT;
  const socket = await network.bind('IPv4');
  const startMs = clock.nowMs();
  let rejected: string | undefined;
  const found = await new Promise<{ location: string; from: TransportAddress } | undefined>((resolve) => {
    const cancel = clock.setTimer(options.udpBudgetMs ?? DEFAULT_GATEWAY_PROBE.udpBudgetMs, () => resolve(undefined));
    socket.onDatagram((bytes, from) => {
      const response = decodeSsdpResponse(bytes);
      if (response === undefined) {
        rejected = `a reply from ${from.address} that is not an SSDP search response`;
        return;
      }
      let host: string;
      try {
        host = new URL(response.location).hostname;
      } catch {
        rejected = `an SSDP reply with a broken LOCATION`;
        return;
      }
      // Only the device that answered may be fetched from: a LOCATION elsewhere would make natscope a proxy.
      if (!sameIp(host, from.address)) {
        rejected = `an SSDP reply from ${from.address} pointing at another host (${host})`;
        return;
      }
      if (!sameIp(from.address, options.gateway)) {
        rejected = `an InternetGatewayDevice at ${from.address}, which is not the default gateway ${options.gateway}`;
        return;
      }
      cancel();
      resolve({ location: response.location, from });
    });
    // UDA 1.1 §1.3.2: a unicast search names the device as HOST and carries no MX.
    socket.send(encodeSsdpSearch(undefined, 1, `${options.gateway}:${ssdpPort}`).slice(), transportAddress(options.gateway, ssdpPort));
    if (options.ssdpMulticast !== false) socket.send(encodeSsdpSearch(), transportAddress(SSDP_MULTICAST_ADDRESS, SSDP_PORT));
  });
  socket.close();
  if (found === undefined) {
    return NO_UPNP(rejected === undefined ? `no UPnP InternetGatewayDevice answered SSDP in ${Math.round(clock.nowMs() - startMs)} ms` : `no usable SSDP answer: ${rejected}`);
  }
  const description = await http(found.location, { method: 'GET' });
  if (description.type === 'failed') return NO_UPNP(`found ${found.location}, but its description could not be read: ${description.reason}`, { location: found.location });
  if (description.statusCode !== 200) {
    const redirect = description.statusCode >= 300 && description.statusCode < 400 ? ' (redirects are not followed)' : '';
    return NO_UPNP(`found ${found.location}, but it answered HTTP ${description.statusCode}${redirect}`, { location: found.location });
  }
  const igd = parseIgdDescription(description.body, found.location);
  const device = { location: found.location, deviceName: igd.friendlyName ?? null, manufacturer: igd.manufacturer ?? null, model: [igd.modelName, igd.modelNumber].filter(Boolean).join(' ') || null };
  if (igd.wanService === undefined) return NO_UPNP('the device describes no WANIPConnection or WANPPPConnection service', device);
  const service = igd.wanService;
  if (!sameIp(new URL(service.controlUrl).hostname, found.from.address)) {
    return NO_UPNP(`the control URL points at another host (${service.controlUrl})`, device);
  }
  const call = async (action: string, outputs: string[]) => {
    const soap = encodeSoapAction(service.serviceType, action);
    const result = await http(service.controlUrl, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset="utf-8"', SOAPAction: soap.soapAction }, body: soap.body });
    if (result.type === 'failed') return { type: 'malformed' as const, reason: result.reason };
    return decodeSoapResponse(result.statusCode, result.body, action, outputs);
  };
  const [address, status] = await Promise.all([call('GetExternalIPAddress', ['NewExternalIPAddress']), call('GetStatusInfo', ['NewConnectionStatus'])]);
  const connectionStatus = status.type === 'ok' ? (status.values.NewConnectionStatus ?? null) : null;
  const reported = address.type === 'ok' ? (address.values.NewExternalIPAddress ?? '') : '';
  const externalAddress = isIP(reported) === 4 && reported !== '0.0.0.0' ? reported : null;
  const base = { ...device, available: true, serviceType: service.serviceType, controlUrl: service.controlUrl, connectionStatus, externalAddress };
  if (address.type !== 'ok') {
    const why = address.type === 'upnp-error' ? `UPnP error ${address.errorCode ?? '?'} (${address.errorDescription ?? ''})` : address.reason;
    return { ...base, connected: false, reason: `the IGD answers, but GetExternalIPAddress failed: ${why}` };
  }
  if (externalAddress === null) {
    return { ...base, connected: false, reason: 'the IGD answers but gives no external address: routers do this when their own WAN address is private or reserved (behind another NAT), so it is "not connected" and cannot map' };
  }
  if (connectionStatus !== null && connectionStatus !== 'Connected') {
    return { ...base, connected: false, reason: `the IGD says its WAN connection is ${connectionStatus}` };
  }
  return { ...base, connected: true, reason: `UPnP-IGD answers: ${service.serviceType.split(':').slice(-2).join(':')}, external address ${externalAddress}` };
}

/** 12 random bytes for a PCP mapping nonce. */
export function newPcpNonce(): Uint8Array {
  return new Uint8Array(randomBytes(12));
}
