import { ipFromBytes, ipToBytes, transportAddress, type TransportAddress } from '../codec/transport-address.js';

/**
 * The echo server's small measurement protocol (README, "natscope serve echo"). Every control message starts
 * with the magic "NSE1", a type byte and three zero bytes; anything else is echoed back as it came.
 */
export const ECHO_MAGIC = 0x4e534531; // "NSE1"

/** Control message types. */
export const EchoMessageType = {
  REGISTER: 1,
  REGISTERED: 2,
  PROBE_REQUEST: 3,
  PROBE_ACK: 4,
  PROBE: 5,
  BUSY: 6,
} as const;

/** Why the server turned a control request away (BUSY): the client reports "server busy", never "blocked". */
export type BusyReason = 'registrations-full' | 'source-limit' | 'rate-limited' | 'probes-full';
const BUSY_REASONS: readonly BusyReason[] = ['registrations-full', 'source-limit', 'rate-limited', 'probes-full'];

/** Which server socket a probe leaves from. */
export type ProbeVia = 'same' | 'alternate-port' | 'alternate-address';
const VIA: readonly ProbeVia[] = ['same', 'alternate-port', 'alternate-address'];

/** Every control message is padded to this size, so a reply is never larger than what asked for it. */
export const ECHO_MESSAGE_BYTES = 64;

export type EchoMessage =
  | { readonly type: 'register'; readonly token: Uint8Array }
  | { readonly type: 'registered'; readonly token: Uint8Array; readonly cookie: Uint8Array; readonly observed: TransportAddress }
  | { readonly type: 'probe-request'; readonly token: Uint8Array; readonly cookie: Uint8Array; readonly via: ProbeVia; readonly delayMs: number; readonly nonce: Uint8Array }
  | { readonly type: 'probe-ack'; readonly token: Uint8Array; readonly nonce: Uint8Array; readonly accepted: boolean }
  | { readonly type: 'probe'; readonly token: Uint8Array; readonly nonce: Uint8Array }
  /** The answer to a REGISTER or PROBE_REQUEST the server refuses for lack of room: token of the request, a reason, and when to retry. */
  | { readonly type: 'busy'; readonly token: Uint8Array; readonly reason: BusyReason; readonly retryAfterMs: number };

const header = (type: number): Uint8Array => {
  const bytes = new Uint8Array(ECHO_MESSAGE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, ECHO_MAGIC);
  view.setUint8(4, type);
  return bytes;
};

/** Encodes a control message (always ECHO_MESSAGE_BYTES long). */
export function encodeEchoMessage(message: EchoMessage): Uint8Array {
  switch (message.type) {
    case 'register': {
      const bytes = header(EchoMessageType.REGISTER);
      bytes.set(message.token.subarray(0, 16), 8);
      return bytes;
    }
    case 'registered': {
      const bytes = header(EchoMessageType.REGISTERED);
      bytes.set(message.token.subarray(0, 16), 8);
      bytes.set(message.cookie.subarray(0, 16), 24);
      const ip = ipToBytes(message.observed.address);
      bytes[40] = ip.length === 4 ? 4 : 6;
      new DataView(bytes.buffer).setUint16(41, message.observed.port);
      bytes.set(ip, 43);
      return bytes;
    }
    case 'probe-request': {
      const bytes = header(EchoMessageType.PROBE_REQUEST);
      bytes.set(message.token.subarray(0, 16), 8);
      bytes.set(message.cookie.subarray(0, 16), 24);
      bytes[40] = VIA.indexOf(message.via);
      new DataView(bytes.buffer).setUint32(41, Math.max(0, Math.round(message.delayMs)));
      bytes.set(message.nonce.subarray(0, 8), 45);
      return bytes;
    }
    case 'probe-ack': {
      const bytes = header(EchoMessageType.PROBE_ACK);
      bytes.set(message.token.subarray(0, 16), 8);
      bytes.set(message.nonce.subarray(0, 8), 24);
      bytes[32] = message.accepted ? 1 : 0;
      return bytes;
    }
    case 'probe': {
      const bytes = header(EchoMessageType.PROBE);
      bytes.set(message.token.subarray(0, 16), 8);
      bytes.set(message.nonce.subarray(0, 8), 24);
      return bytes;
    }
    case 'busy': {
      const bytes = header(EchoMessageType.BUSY);
      bytes.set(message.token.subarray(0, 16), 8);
      bytes[24] = BUSY_REASONS.indexOf(message.reason);
      new DataView(bytes.buffer).setUint32(25, Math.max(0, Math.round(message.retryAfterMs)));
      return bytes;
    }
  }
}

/** True when the datagram claims to be a control message (magic and length). */
export function isEchoControl(bytes: Uint8Array): boolean {
  return bytes.length === ECHO_MESSAGE_BYTES && new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0) === ECHO_MAGIC;
}

/** Decodes a control message; undefined for anything malformed. */
export function decodeEchoMessage(bytes: Uint8Array): EchoMessage | undefined {
  if (!isEchoControl(bytes)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slice = (from: number, length: number): Uint8Array => Uint8Array.prototype.slice.call(bytes, from, from + length);
  const token = slice(8, 16);
  switch (view.getUint8(4)) {
    case EchoMessageType.REGISTER:
      return { type: 'register', token };
    case EchoMessageType.REGISTERED: {
      const family = view.getUint8(40);
      if (family !== 4 && family !== 6) return undefined;
      const ip = slice(43, family === 4 ? 4 : 16);
      return { type: 'registered', token, cookie: slice(24, 16), observed: transportAddress(ipFromBytes(ip), view.getUint16(41)) };
    }
    case EchoMessageType.PROBE_REQUEST: {
      const via = VIA[view.getUint8(40)];
      if (via === undefined) return undefined;
      return { type: 'probe-request', token, cookie: slice(24, 16), via, delayMs: view.getUint32(41), nonce: slice(45, 8) };
    }
    case EchoMessageType.PROBE_ACK:
      return { type: 'probe-ack', token, nonce: slice(24, 8), accepted: view.getUint8(32) === 1 };
    case EchoMessageType.PROBE:
      return { type: 'probe', token, nonce: slice(24, 8) };
    case EchoMessageType.BUSY: {
      const reason = BUSY_REASONS[view.getUint8(24)];
      if (reason === undefined) return undefined;
      return { type: 'busy', token, reason, retryAfterMs: view.getUint32(25) };
    }
    default:
      return undefined;
  }
}
