import { ipFromBytes, ipToBytes } from './transport-address.js';

/**
 * NAT-PMP (RFC 6886) wire format: version 0, opcodes 0 (external address), 1 (map UDP), 2 (map TCP);
 * a response's opcode is the request's plus 128 (RFC 6886 §3.2, §3.3).
 */
export const NAT_PMP_VERSION = 0;
/** The server port, on the default gateway (RFC 6886 §3.1). */
export const NAT_PMP_PORT = 5351;

export const NatPmpOpcode = {
  EXTERNAL_ADDRESS: 0,
  MAP_UDP: 1,
  MAP_TCP: 2,
} as const;

/** RFC 6886 §3.5 result codes, by name. */
export const NAT_PMP_RESULT_NAMES: Readonly<Record<number, string>> = {
  0: 'Success',
  1: 'Unsupported Version',
  2: 'Not Authorized/Refused',
  3: 'Network Failure',
  4: 'Out of resources',
  5: 'Unsupported opcode',
};

/** A decoded NAT-PMP response. */
export type NatPmpResponse =
  | {
      readonly type: 'external-address';
      readonly resultCode: number;
      /** Seconds Since Start of Epoch (RFC 6886 §3.6). */
      readonly epochSeconds: number;
      readonly externalAddress: string;
    }
  | {
      readonly type: 'map';
      readonly protocol: 'udp' | 'tcp';
      readonly resultCode: number;
      readonly epochSeconds: number;
      readonly internalPort: number;
      readonly externalPort: number;
      readonly lifetimeSeconds: number;
    }
  /** A short error reply (RFC 6886 §3.5: unsupported version/opcode replies carry only the first 8 bytes). */
  | { readonly type: 'error'; readonly opcode: number; readonly resultCode: number; readonly epochSeconds: number };

/** Why bytes are not a NAT-PMP response. */
export type NatPmpDecodeFailure = { readonly type: 'malformed'; readonly reason: string };

/** The 2-byte external address request (RFC 6886 §3.2). */
export function encodeNatPmpExternalAddressRequest(): Uint8Array {
  return Uint8Array.of(NAT_PMP_VERSION, NatPmpOpcode.EXTERNAL_ADDRESS);
}

/**
 * A 12-byte mapping request (RFC 6886 §3.3). Lifetime 0 with external port 0 deletes the mapping of
 * `internalPort` (§3.4).
 */
export function encodeNatPmpMapRequest(request: {
  readonly protocol: 'udp' | 'tcp';
  readonly internalPort: number;
  readonly suggestedExternalPort: number;
  readonly lifetimeSeconds: number;
}): Uint8Array {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, NAT_PMP_VERSION);
  view.setUint8(1, request.protocol === 'udp' ? NatPmpOpcode.MAP_UDP : NatPmpOpcode.MAP_TCP);
  view.setUint16(4, request.internalPort);
  view.setUint16(6, request.suggestedExternalPort);
  view.setUint32(8, request.lifetimeSeconds >>> 0);
  return bytes;
}

/** Decodes a NAT-PMP response; a failure (never a throw) for anything that is not one. */
export function decodeNatPmpResponse(bytes: Uint8Array): NatPmpResponse | NatPmpDecodeFailure {
  if (bytes.length < 8) return { type: 'malformed', reason: `${bytes.length} bytes is shorter than the 8-byte NAT-PMP response header` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(0);
  if (version !== NAT_PMP_VERSION) return { type: 'malformed', reason: `version ${version}, not NAT-PMP's 0` };
  const op = view.getUint8(1);
  if (op < 128) return { type: 'malformed', reason: `opcode ${op} is a request, not a response` };
  const opcode = op - 128;
  const resultCode = view.getUint16(2);
  const epochSeconds = view.getUint32(4);
  if (opcode === NatPmpOpcode.EXTERNAL_ADDRESS && bytes.length >= 12) {
    return { type: 'external-address', resultCode, epochSeconds, externalAddress: ipFromBytes(bytes.subarray(8, 12)) };
  }
  if ((opcode === NatPmpOpcode.MAP_UDP || opcode === NatPmpOpcode.MAP_TCP) && bytes.length >= 16) {
    return {
      type: 'map',
      protocol: opcode === NatPmpOpcode.MAP_UDP ? 'udp' : 'tcp',
      resultCode,
      epochSeconds,
      internalPort: view.getUint16(8),
      externalPort: view.getUint16(10),
      lifetimeSeconds: view.getUint32(12),
    };
  }
  // RFC 6886 §3.5: a non-zero result may come as the 8-byte header alone.
  if (resultCode !== 0) return { type: 'error', opcode, resultCode, epochSeconds };
  return { type: 'malformed', reason: `opcode ${op} response of ${bytes.length} bytes is truncated` };
}

/** Encodes a response (for tests and fake routers). */
export function encodeNatPmpResponse(response: NatPmpResponse): Uint8Array {
  if (response.type === 'external-address') {
    const bytes = new Uint8Array(12);
    const view = new DataView(bytes.buffer);
    view.setUint8(1, 128 + NatPmpOpcode.EXTERNAL_ADDRESS);
    view.setUint16(2, response.resultCode);
    view.setUint32(4, response.epochSeconds);
    bytes.set(ipToBytes(response.externalAddress), 8);
    return bytes;
  }
  if (response.type === 'map') {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setUint8(1, 128 + (response.protocol === 'udp' ? NatPmpOpcode.MAP_UDP : NatPmpOpcode.MAP_TCP));
    view.setUint16(2, response.resultCode);
    view.setUint32(4, response.epochSeconds);
    view.setUint16(8, response.internalPort);
    view.setUint16(10, response.externalPort);
    view.setUint32(12, response.lifetimeSeconds);
    return bytes;
  }
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint8(1, 128 + response.opcode);
  view.setUint16(2, response.resultCode);
  view.setUint32(4, response.epochSeconds);
  return bytes;
}

/** The RFC 6886 name of a result code ("Network Failure"), or "result N". */
export function natPmpResultName(code: number): string {
  return NAT_PMP_RESULT_NAMES[code] ?? `result ${code}`;
}
