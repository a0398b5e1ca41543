import { isIP } from 'node:net';
import { ipFromBytes, ipToBytes, normalizeIp } from '../transport-address.js';
import { PCP_HEADER_BYTES, PCP_MAP_DATA_BYTES, PCP_MAX_MESSAGE_BYTES, PCP_PROTOCOL_NUMBER, PCP_VERSION, PcpOpcode } from './constants.js';

/** A PCP request natscope sends: ANNOUNCE (RFC 6887 §14.1) or MAP (§11.1). */
export type PcpRequest =
  | { readonly opcode: 'announce'; readonly clientAddress: string }
  | {
      readonly opcode: 'map';
      readonly clientAddress: string;
      readonly lifetimeSeconds: number;
      /** 12 random bytes that tie responses and later refreshes/deletes to this mapping (§11.1). */
      readonly nonce: Uint8Array;
      readonly protocol: 'udp' | 'tcp';
      readonly internalPort: number;
      readonly suggestedExternalPort: number;
      /** Suggested external IP; the all-zeros address of the family for "any" (§11.1). */
      readonly suggestedExternalAddress: string;
    };

/** A PCP option as it came (§7.3): its code and data, unread. */
export interface PcpOption {
  readonly code: number;
  readonly data: Uint8Array;
}

/** A decoded PCP response (RFC 6887 §7.2). */
export interface PcpResponse {
  readonly opcode: number;
  readonly resultCode: number;
  readonly lifetimeSeconds: number;
  /** The server's epoch, seconds (§8.5). */
  readonly epochSeconds: number;
  /** MAP responses: the opcode data. */
  readonly map?: {
    readonly nonce: Uint8Array;
    readonly protocolNumber: number;
    readonly internalPort: number;
    readonly externalPort: number;
    readonly externalAddress: string;
  };
  readonly options: readonly PcpOption[];
}

/** Why bytes are not a PCP response. */
export interface PcpDecodeFailure {
  readonly type: 'malformed';
  readonly reason: string;
  /**
   * A version-0 reply: a NAT-PMP-only server saying "Unsupported Version" to PCP (RFC 6887 §9).
   */
  readonly natPmpVersion?: true;
}

/** The 16-byte form of an address in PCP: IPv6 as is, IPv4 as IPv4-mapped ::ffff:a.b.c.d (RFC 6887 §5). */
export function encodePcpAddress(address: string): Uint8Array {
  const bytes = ipToBytes(address);
  if (bytes.length === 16) return bytes;
  const mapped = new Uint8Array(16);
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  mapped.set(bytes, 12);
  return mapped;
}

/** The text of a 16-byte PCP address: IPv4-mapped addresses come back as plain IPv4. */
export function decodePcpAddress(bytes: Uint8Array): string {
  const mapped = bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? ipFromBytes(bytes.subarray(12, 16)) : normalizeIp(ipFromBytes(bytes));
}

/** Encodes a request: 24-byte header, then the opcode's data (RFC 6887 §7.1). */
export function encodePcpRequest(request: PcpRequest): Uint8Array {
  if (isIP(request.clientAddress) === 0) throw new TypeError(`PCP client address is not an IP: ${request.clientAddress}`);
  const isMap = request.opcode === 'map';
  const bytes = new Uint8Array(PCP_HEADER_BYTES + (isMap ? PCP_MAP_DATA_BYTES : 0));
  const view = new DataView(bytes.buffer);
  view.setUint8(0, PCP_VERSION);
  view.setUint8(1, isMap ? PcpOpcode.MAP : PcpOpcode.ANNOUNCE); // R bit 0: a request
  // §14.1: ANNOUNCE requests carry lifetime 0.
  view.setUint32(4, isMap ? request.lifetimeSeconds >>> 0 : 0);
  bytes.set(encodePcpAddress(request.clientAddress), 8);
  if (request.opcode === 'map') {
    if (request.nonce.length !== 12) throw new RangeError(`a PCP mapping nonce has 12 bytes, not ${request.nonce.length}`);
    bytes.set(request.nonce, 24);
    view.setUint8(36, PCP_PROTOCOL_NUMBER[request.protocol]);
    view.setUint16(40, request.internalPort);
    view.setUint16(42, request.suggestedExternalPort);
    bytes.set(encodePcpAddress(request.suggestedExternalAddress), 44);
  }
  return bytes;
}

/** Decodes a response; a failure (never a throw) for anything that is not one. Options are bounded by §7. */
export function decodePcpResponse(bytes: Uint8Array): PcpResponse | PcpDecodeFailure {
  if (bytes.length >= 1 && bytes[0] === 0) {
    return { type: 'malformed', reason: 'a NAT-PMP (version 0) reply', natPmpVersion: true };
  }
  if (bytes.length < PCP_HEADER_BYTES) return { type: 'malformed', reason: `${bytes.length} bytes is shorter than the 24-byte PCP header` };
  if (bytes.length > PCP_MAX_MESSAGE_BYTES) return { type: 'malformed', reason: `${bytes.length} bytes is longer than PCP's 1100` };
  if (bytes.length % 4 !== 0) return { type: 'malformed', reason: `${bytes.length} bytes is not a multiple of 4 (RFC 6887 §7)` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== PCP_VERSION) return { type: 'malformed', reason: `version ${version}, not PCP's 2` };
  const rOpcode = view.getUint8(1);
  if ((rOpcode & 0x80) === 0) return { type: 'malformed', reason: 'R bit clear: a request, not a response' };
  const opcode = rOpcode & 0x7f;
  const resultCode = view.getUint8(3);
  const lifetimeSeconds = view.getUint32(4);
  const epochSeconds = view.getUint32(8);
  let offset = PCP_HEADER_BYTES;
  let map: PcpResponse['map'];
  if (opcode === PcpOpcode.MAP) {
    // §7.2: an error response may be header-only when the server could not parse the request.
    if (bytes.length >= offset + PCP_MAP_DATA_BYTES) {
      map = {
        nonce: bytes.slice(24, 36),
        protocolNumber: view.getUint8(36),
        internalPort: view.getUint16(40),
        externalPort: view.getUint16(42),
        externalAddress: decodePcpAddress(bytes.subarray(44, 60)),
      };
      offset += PCP_MAP_DATA_BYTES;
    } else if (resultCode === 0) {
      return { type: 'malformed', reason: `a successful MAP response of ${bytes.length} bytes has no opcode data` };
    }
  }
  const options: PcpOption[] = [];
  while (offset + 4 <= bytes.length) {
    const code = view.getUint8(offset);
    const length = view.getUint16(offset + 2);
    const padded = (length + 3) & ~3;
    if (offset + 4 + padded > bytes.length) return { type: 'malformed', reason: `option ${code} of ${length} bytes runs past the end` };
    options.push({ code, data: bytes.slice(offset + 4, offset + 4 + length) });
    offset += 4 + padded;
  }
  return { opcode, resultCode, lifetimeSeconds, epochSeconds, ...(map === undefined ? {} : { map }), options };
}

/** True when a decode result is a failure. */
export function isPcpDecodeFailure(value: PcpResponse | PcpDecodeFailure): value is PcpDecodeFailure {
  return (value as PcpDecodeFailure).type === 'malformed';
}

/** Encodes a response (for tests and fake routers). */
export function encodePcpResponse(response: Omit<PcpResponse, 'options'> & { readonly options?: readonly PcpOption[] }): Uint8Array {
  const optionBytes = (response.options ?? []).reduce((sum, o) => sum + 4 + ((o.data.length + 3) & ~3), 0);
  const bytes = new Uint8Array(PCP_HEADER_BYTES + (response.map === undefined ? 0 : PCP_MAP_DATA_BYTES) + optionBytes);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, PCP_VERSION);
  view.setUint8(1, 0x80 | response.opcode);
  view.setUint8(3, response.resultCode);
  view.setUint32(4, response.lifetimeSeconds);
  view.setUint32(8, response.epochSeconds);
  let offset = PCP_HEADER_BYTES;
  if (response.map !== undefined) {
    bytes.set(response.map.nonce, 24);
    view.setUint8(36, response.map.protocolNumber);
    view.setUint16(40, response.map.internalPort);
    view.setUint16(42, response.map.externalPort);
    bytes.set(encodePcpAddress(response.map.externalAddress), 44);
    offset += PCP_MAP_DATA_BYTES;
  }
  for (const option of response.options ?? []) {
    view.setUint8(offset, option.code);
    view.setUint16(offset + 2, option.data.length);
    bytes.set(option.data, offset + 4);
    offset += 4 + ((option.data.length + 3) & ~3);
  }
  return bytes;
}
