import { ipFromBytes, ipToBytes, transportAddress, type TransportAddress } from '../codec/transport-address.js';

/**
 * The rendezvous (signalling) protocol of `natscope serve rendezvous` (README, "natscope p2p"). Every message is
 * exactly RENDEZVOUS_MESSAGE_BYTES long, so no reply is larger than the request it answers:
 *
 *   0 magic "NSR1" | 4 type | 5-7 zero | 8 room id (16) | 24 peer id (8) | 32 cookie (16) | 48 nonce (8)
 *   56 rttMs (u16) | 58 delayMs (u32) | 62 role | 63 family (4/6) | 64 observed port (u16) | 66 observed IP (16)
 *   82 info length (u16) | 84 info (opaque to the server: the peer's candidates and classification)
 */
export const RENDEZVOUS_MAGIC = 0x4e535231; // "NSR1"

/** Every message is padded to this size (under the 1232 bytes an IPv6 path always carries). */
export const RENDEZVOUS_MESSAGE_BYTES = 1200;
const INFO_OFFSET = 84;
/** The most info bytes a message carries. */
export const RENDEZVOUS_MAX_INFO_BYTES = RENDEZVOUS_MESSAGE_BYTES - INFO_OFFSET;

/** Message types. */
export const RendezvousMessageType = {
  /** client → server: asks for a cookie for (room, peer, this address). */
  HELLO: 1,
  /** server → client: the cookie, and the address the server saw (the server-reflexive candidate). */
  COOKIE: 2,
  /** client → server: joins the room with the cookie, its info and its RTT to the server; repeated as a poll. */
  JOIN: 3,
  /** server → client: joined, the peer has not come yet. */
  WAITING: 4,
  /** server → client: the peer's info and how long to wait before punching (both start at the same moment). */
  START: 5,
  /** server → client: the room already has two other peers. */
  FULL: 6,
} as const;

export interface RendezvousMessage {
  readonly type: 'hello' | 'cookie' | 'join' | 'waiting' | 'start' | 'full';
  /** SHA-256 of the room name, truncated: the server never learns the name (the check key derives from it). */
  readonly roomId: Uint8Array;
  readonly peerId: Uint8Array;
  readonly cookie?: Uint8Array;
  readonly nonce?: Uint8Array;
  readonly rttMs?: number;
  readonly delayMs?: number;
  /** "a" is the first to join, "b" the second. */
  readonly role?: 'a' | 'b';
  readonly observed?: TransportAddress;
  readonly info?: Uint8Array;
}

const TYPES = ['hello', 'cookie', 'join', 'waiting', 'start', 'full'] as const;

/** Encodes a message (always RENDEZVOUS_MESSAGE_BYTES long); info beyond the room is an error. */
export function encodeRendezvousMessage(message: RendezvousMessage): Uint8Array {
  const bytes = new Uint8Array(RENDEZVOUS_MESSAGE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, RENDEZVOUS_MAGIC);
  view.setUint8(4, TYPES.indexOf(message.type) + 1);
  bytes.set(message.roomId.subarray(0, 16), 8);
  bytes.set(message.peerId.subarray(0, 8), 24);
  if (message.cookie !== undefined) bytes.set(message.cookie.subarray(0, 16), 32);
  if (message.nonce !== undefined) bytes.set(message.nonce.subarray(0, 8), 48);
  view.setUint16(56, Math.min(65535, Math.max(0, Math.round(message.rttMs ?? 0))));
  view.setUint32(58, Math.max(0, Math.round(message.delayMs ?? 0)));
  view.setUint8(62, message.role === 'b' ? 2 : message.role === 'a' ? 1 : 0);
  if (message.observed !== undefined) {
    const ip = ipToBytes(message.observed.address);
    view.setUint8(63, ip.length === 4 ? 4 : 6);
    view.setUint16(64, message.observed.port);
    bytes.set(ip, 66);
  }
  const info = message.info ?? new Uint8Array(0);
  if (info.length > RENDEZVOUS_MAX_INFO_BYTES) throw new RangeError(`rendezvous info is ${info.length} bytes, at most ${RENDEZVOUS_MAX_INFO_BYTES} fit`);
  view.setUint16(82, info.length);
  bytes.set(info, INFO_OFFSET);
  return bytes;
}

/** True when the datagram claims to be a rendezvous message (magic and exact length). */
export function isRendezvousMessage(bytes: Uint8Array): boolean {
  return bytes.length === RENDEZVOUS_MESSAGE_BYTES && new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0) === RENDEZVOUS_MAGIC;
}

/** Decodes a message; undefined for anything malformed. */
export function decodeRendezvousMessage(bytes: Uint8Array): RendezvousMessage | undefined {
  if (!isRendezvousMessage(bytes)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = TYPES[view.getUint8(4) - 1];
  if (type === undefined) return undefined;
  const slice = (from: number, length: number): Uint8Array => Uint8Array.prototype.slice.call(bytes, from, from + length);
  const family = view.getUint8(63);
  if (family !== 0 && family !== 4 && family !== 6) return undefined;
  const infoLength = view.getUint16(82);
  if (infoLength > RENDEZVOUS_MAX_INFO_BYTES) return undefined;
  const roleByte = view.getUint8(62);
  return {
    type,
    roomId: slice(8, 16),
    peerId: slice(24, 8),
    cookie: slice(32, 16),
    nonce: slice(48, 8),
    rttMs: view.getUint16(56),
    delayMs: view.getUint32(58),
    ...(roleByte === 1 ? { role: 'a' as const } : roleByte === 2 ? { role: 'b' as const } : {}),
    ...(family === 0 ? {} : { observed: transportAddress(ipFromBytes(slice(66, family === 4 ? 4 : 16)), view.getUint16(64)) }),
    info: slice(INFO_OFFSET, infoLength),
  };
}
