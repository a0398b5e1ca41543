import { decodeNatPmpResponse, encodeNatPmpMapRequest, NAT_PMP_PORT } from '../codec/natpmp.js';
import { PCP_PROTOCOL_NUMBER, PcpOpcode, pcpResultName } from '../codec/pcp/constants.js';
import { decodePcpResponse, encodePcpRequest, isPcpDecodeFailure } from '../codec/pcp/messages.js';
import { transportAddress } from '../codec/transport-address.js';
import { decodeSoapResponse, encodeSoapAction } from '../codec/upnp-igd.js';
import { natPmpSchedule, pcpSchedule } from '../protocol/port-mapping-transaction.js';
import type { HttpExchange } from '../platform/bounded-http.js';
import { explainNatPmpResult, newPcpNonce } from './gateway-probe.js';
import { exchangeWithRouter } from './port-mapping-exchange.js';
import type { Clock, UdpNetwork, UdpSocket } from './ports.js';

/** A port-mapping protocol. */
export type MappingProtocol = 'natPmp' | 'pcp' | 'upnp';

/** A mapping the router granted: where the internet may reach the internal port, and how to remove it. */
export interface GrantedMapping {
  readonly protocol: MappingProtocol;
  readonly internalPort: number;
  readonly externalAddress: string | null;
  readonly externalPort: number;
  readonly lifetimeSeconds: number;
  /** Removes the mapping; resolves true when the router confirmed. */
  readonly remove: () => Promise<boolean>;
}

/** How to reach the router and how long to wait. */
export interface MappingRequest {
  readonly gateway: string;
  readonly clientAddress: string;
  readonly internalPort: number;
  readonly lifetimeSeconds: number;
  readonly timeoutMs: number;
  readonly natPmpPort?: number;
  /** UPnP only: the WAN service found by the probe. */
  readonly upnp?: { readonly serviceType: string; readonly controlUrl: string };
}

/** Why a mapping could not be made. */
export interface MappingRefusal {
  readonly refused: true;
  readonly reason: string;
}

/** Asks the router for one UDP mapping of `internalPort`, suggesting the same external port. Never throws for router behaviour. */
export async function requestUdpMapping(
  protocol: MappingProtocol,
  network: UdpNetwork,
  clock: Clock,
  http: HttpExchange,
  request: MappingRequest,
): Promise<GrantedMapping | MappingRefusal> {
  if (protocol === 'natPmp') return requestNatPmpMapping(network, clock, request);
  if (protocol === 'pcp') return requestPcpMapping(network, clock, request);
  return requestUpnpMapping(http, request);
}

async function withSocket<T>(network: UdpNetwork, run: (socket: UdpSocket) => Promise<T>): Promise<T> {
  const socket = await network.bind('IPv4');
  try {
    return await run(socket);
  } finally {
    socket.close();
  }
}

async function natPmpMap(network: UdpNetwork, clock: Clock, request: MappingRequest, externalPort: number, lifetimeSeconds: number) {
  const server = transportAddress(request.gateway, request.natPmpPort ?? NAT_PMP_PORT);
  const bytes = encodeNatPmpMapRequest({ protocol: 'udp', internalPort: request.internalPort, suggestedExternalPort: externalPort, lifetimeSeconds });
  return withSocket(network, (socket) =>
    exchangeWithRouter(socket, clock, server, bytes, natPmpSchedule, clock.nowMs() + request.timeoutMs, (answer) => {
      const decoded = decodeNatPmpResponse(answer);
      if (decoded.type === 'map' && decoded.internalPort === request.internalPort) return decoded;
      if (decoded.type === 'error') return decoded;
      return undefined;
    }),
  );
}

/** RFC 6886 §3.3 mapping; removal is the same request with lifetime 0 and external port 0 (§3.4). */
async function requestNatPmpMapping(network: UdpNetwork, clock: Clock, request: MappingRequest): Promise<GrantedMapping | MappingRefusal> {
  const outcome = await natPmpMap(network, clock, request, request.internalPort, request.lifetimeSeconds);
  if (outcome.type === 'no-answer') return { refused: true, reason: `no answer to the NAT-PMP mapping request in ${request.timeoutMs} ms` };
  const answer = outcome.value;
  if (answer.resultCode !== 0 || answer.type !== 'map') return { refused: true, reason: explainNatPmpResult(answer.resultCode) };
  return {
    protocol: 'natPmp',
    internalPort: request.internalPort,
    externalAddress: null,
    externalPort: answer.externalPort,
    lifetimeSeconds: answer.lifetimeSeconds,
    remove: async () => {
      const removed = await natPmpMap(network, clock, request, 0, 0);
      return removed.type === 'answered' && removed.value.resultCode === 0;
    },
  };
}

async function pcpMap(network: UdpNetwork, clock: Clock, request: MappingRequest, nonce: Uint8Array, lifetimeSeconds: number, externalPort: number) {
  const server = transportAddress(request.gateway, request.natPmpPort ?? NAT_PMP_PORT);
  const bytes = encodePcpRequest({
    opcode: 'map',
    clientAddress: request.clientAddress,
    lifetimeSeconds,
    nonce,
    protocol: 'udp',
    internalPort: request.internalPort,
    suggestedExternalPort: externalPort,
    suggestedExternalAddress: '0.0.0.0',
  });
  const hex = Buffer.from(nonce).toString('hex');
  return withSocket(network, (socket) =>
    exchangeWithRouter(socket, clock, server, bytes, pcpSchedule(Math.random), clock.nowMs() + request.timeoutMs, (answer) => {
      const decoded = decodePcpResponse(answer);
      if (isPcpDecodeFailure(decoded) || decoded.opcode !== PcpOpcode.MAP) return undefined;
      // RFC 6887 §11.5: a response whose nonce, protocol or internal port differ is not ours.
      if (decoded.map !== undefined && (Buffer.from(decoded.map.nonce).toString('hex') !== hex || decoded.map.protocolNumber !== PCP_PROTOCOL_NUMBER.udp || decoded.map.internalPort !== request.internalPort)) return undefined;
      return decoded;
    }),
  );
}

/** RFC 6887 §11 MAP; removal is MAP with the same nonce and lifetime 0 (§15). */
async function requestPcpMapping(network: UdpNetwork, clock: Clock, request: MappingRequest): Promise<GrantedMapping | MappingRefusal> {
  const nonce = newPcpNonce();
  const outcome = await pcpMap(network, clock, request, nonce, request.lifetimeSeconds, request.internalPort);
  if (outcome.type === 'no-answer') return { refused: true, reason: `no answer to the PCP MAP request in ${request.timeoutMs} ms` };
  const answer = outcome.value;
  if (answer.resultCode !== 0 || answer.map === undefined) {
    return { refused: true, reason: `PCP MAP answered ${pcpResultName(answer.resultCode)} (result ${answer.resultCode})` };
  }
  return {
    protocol: 'pcp',
    internalPort: request.internalPort,
    externalAddress: answer.map.externalAddress,
    externalPort: answer.map.externalPort,
    lifetimeSeconds: answer.lifetimeSeconds,
    remove: async () => {
      const removed = await pcpMap(network, clock, request, nonce, 0, 0);
      return removed.type === 'answered' && removed.value.resultCode === 0;
    },
  };
}

/** UPnP AddPortMapping with a lease (never 0, which would be permanent); removal is DeletePortMapping. */
async function requestUpnpMapping(http: HttpExchange, request: MappingRequest): Promise<GrantedMapping | MappingRefusal> {
  const service = request.upnp;
  if (service === undefined) return { refused: true, reason: 'no UPnP WAN connection service was found' };
  const soap = async (action: string, args: ReadonlyArray<readonly [string, string | number]>) => {
    const call = encodeSoapAction(service.serviceType, action, args);
    const result = await http(service.controlUrl, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset="utf-8"', SOAPAction: call.soapAction }, body: call.body }, { timeoutMs: request.timeoutMs, maxBodyBytes: 64 * 1024 });
    return result.type === 'failed' ? ({ type: 'malformed', reason: result.reason } as const) : decodeSoapResponse(result.statusCode, result.body, action, []);
  };
  const added = await soap('AddPortMapping', [
    ['NewRemoteHost', ''],
    ['NewExternalPort', request.internalPort],
    ['NewProtocol', 'UDP'],
    ['NewInternalPort', request.internalPort],
    ['NewInternalClient', request.clientAddress],
    ['NewEnabled', 1],
    ['NewPortMappingDescription', 'natscope --verify'],
    ['NewLeaseDuration', request.lifetimeSeconds],
  ]);
  if (added.type !== 'ok') {
    const why = added.type === 'upnp-error' ? `UPnP error ${added.errorCode ?? '?'} (${added.errorDescription ?? ''})` : added.reason;
    // 725 OnlyPermanentLeasesSupported: natscope does not leave a permanent mapping behind.
    return { refused: true, reason: `AddPortMapping failed: ${why}${added.type === 'upnp-error' && added.errorCode === 725 ? '; natscope does not create permanent mappings' : ''}` };
  }
  return {
    protocol: 'upnp',
    internalPort: request.internalPort,
    externalAddress: null,
    externalPort: request.internalPort,
    lifetimeSeconds: request.lifetimeSeconds,
    remove: async () => {
      const removed = await soap('DeletePortMapping', [
        ['NewRemoteHost', ''],
        ['NewExternalPort', request.internalPort],
        ['NewProtocol', 'UDP'],
      ]);
      return removed.type === 'ok';
    },
  };
}
