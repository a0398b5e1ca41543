import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import stun from 'stun';
import { StunDecodeError } from '../errors.js';
import { AttributeType, FINGERPRINT_XOR, HEADER_LENGTH, MAGIC_COOKIE } from './constants.js';
import { ipFromBytes, transportAddress, type TransportAddress } from './transport-address.js';

/** RFC 5780 §7.2 CHANGE-REQUEST flags. */
export interface ChangeRequest {
  readonly changeIp: boolean;
  readonly changePort: boolean;
}

/** A decoded STUN message: its header and the attributes natscope understands. */
export interface StunMessage {
  readonly messageType: number;
  readonly transactionId: Uint8Array;
  /** Every attribute type in the order received, known or not. */
  readonly attributeTypes: readonly number[];
  readonly mappedAddress?: TransportAddress;
  readonly xorMappedAddress?: TransportAddress;
  readonly otherAddress?: TransportAddress;
  readonly responseOrigin?: TransportAddress;
  readonly changedAddress?: TransportAddress;
  readonly sourceAddress?: TransportAddress;
  readonly changeRequest?: ChangeRequest;
  readonly responsePort?: number;
  readonly paddingLength?: number;
  readonly software?: string;
  readonly username?: string;
  readonly realm?: string;
  readonly nonce?: string;
  readonly errorCode?: { readonly code: number; readonly reason: string };
  readonly unknownAttributes?: readonly number[];
  /** True when a FINGERPRINT was present (it was checked: a bad one throws). */
  readonly hasFingerprint: boolean;
}

interface RawAttribute {
  readonly type: number;
  /** Offset of the attribute's 4-byte header in the message. */
  readonly offset: number;
  readonly value: Uint8Array;
}

/** Cheap test that a datagram looks like STUN (RFC 8489 §5: top bits zero, magic cookie), for demultiplexing. */
export function looksLikeStun(bytes: Uint8Array): boolean {
  return (
    bytes.length >= HEADER_LENGTH &&
    ((bytes[0] ?? 0xff) & 0xc0) === 0 &&
    readUint32(bytes, 4) === MAGIC_COOKIE &&
    readUint16(bytes, 2) === bytes.length - HEADER_LENGTH
  );
}

/**
 * Decodes and checks a STUN message (RFC 8489 §6.3).
 * The `stun` package splits the message and reads the plain attributes; the attributes it gets wrong
 * or does not know (XOR addresses over IPv6, CHANGED-ADDRESS, SOURCE-ADDRESS, RESPONSE-PORT of length 4, PADDING)
 * and the FINGERPRINT check over the received bytes are done here, in this one place.
 */
export function decodeStunMessage(bytes: Uint8Array): StunMessage {
  const raw = splitAttributes(bytes);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const transactionId = Uint8Array.prototype.slice.call(bytes, 8, 20);

  const fingerprint = raw.find((a) => a.type === AttributeType.FINGERPRINT);
  if (fingerprint !== undefined) checkFingerprint(bytes, fingerprint, raw);

  let decoded: ReturnType<typeof stun.decode>;
  try {
    decoded = stun.decode(buffer);
  } catch (cause) {
    throw new StunDecodeError(`attribute values do not parse (${(cause as Error).message})`, { cause });
  }

  const result: { -readonly [K in keyof StunMessage]: StunMessage[K] } = {
    messageType: readUint16(bytes, 0),
    transactionId,
    attributeTypes: raw.map((a) => a.type),
    hasFingerprint: fingerprint !== undefined,
  };

  const plainAddress = (type: number): TransportAddress | undefined => {
    const value = decoded.getAttribute(type)?.value as { address: string; port: number } | undefined;
    return value === undefined ? undefined : transportAddress(value.address, value.port);
  };
  const text = (type: number): string | undefined => {
    const value = decoded.getAttribute(type)?.value;
    return Buffer.isBuffer(value) ? value.toString('utf8') : undefined;
  };
  const byType = (type: number): RawAttribute | undefined => raw.find((a) => a.type === type);

  assign(result, 'mappedAddress', plainAddress(AttributeType.MAPPED_ADDRESS));
  assign(result, 'otherAddress', plainAddress(AttributeType.OTHER_ADDRESS));
  assign(result, 'responseOrigin', plainAddress(AttributeType.RESPONSE_ORIGIN));
  assign(result, 'software', text(AttributeType.SOFTWARE));
  assign(result, 'username', text(AttributeType.USERNAME));
  assign(result, 'realm', text(AttributeType.REALM));
  assign(result, 'nonce', text(AttributeType.NONCE));

  const errorCode = decoded.getAttribute(AttributeType.ERROR_CODE)?.value as { code: number; reason: string } | undefined;
  if (errorCode !== undefined) result.errorCode = { code: errorCode.code, reason: String(errorCode.reason ?? '') };
  const unknown = decoded.getAttribute(AttributeType.UNKNOWN_ATTRIBUTES)?.value;
  if (Array.isArray(unknown)) result.unknownAttributes = unknown.map(Number);

  const changeRequest = decoded.getAttribute(AttributeType.CHANGE_REQUEST)?.value;
  if (typeof changeRequest === 'number') {
    // RFC 5780 §7.2: bit "A" (0x4) changes the IP, bit "B" (0x2) the port.
    result.changeRequest = { changeIp: (changeRequest & 0x4) !== 0, changePort: (changeRequest & 0x2) !== 0 };
  }

  // The workarounds, all here: own decoding of what the package gets wrong or does not know.
  const xor = byType(AttributeType.XOR_MAPPED_ADDRESS) ?? byType(AttributeType.XOR_MAPPED_ADDRESS_LEGACY);
  if (xor !== undefined) result.xorMappedAddress = decodeAddressValue(xor, transactionId);
  const changed = byType(AttributeType.CHANGED_ADDRESS);
  if (changed !== undefined) result.changedAddress = decodeAddressValue(changed);
  const source = byType(AttributeType.SOURCE_ADDRESS);
  if (source !== undefined) result.sourceAddress = decodeAddressValue(source);
  const responsePort = byType(AttributeType.RESPONSE_PORT);
  if (responsePort !== undefined) {
    // RFC 5780 §7.5 says 16 bits of port then 16 of padding (length 4); some servers send length 2.
    if (responsePort.value.length !== 2 && responsePort.value.length !== 4) {
      throw new StunDecodeError(`RESPONSE-PORT has length ${responsePort.value.length}, expected 2 or 4`);
    }
    result.responsePort = readUint16(responsePort.value, 0);
  }
  const padding = byType(AttributeType.PADDING);
  if (padding !== undefined) result.paddingLength = padding.value.length;
  return result;
}

/** Checks MESSAGE-INTEGRITY (HMAC-SHA1) over the bytes as received (RFC 8489 §14.5); false when absent or wrong. */
export function verifyMessageIntegrity(bytes: Uint8Array, key: Uint8Array): boolean {
  const raw = splitAttributes(bytes);
  const integrity = raw.find((a) => a.type === AttributeType.MESSAGE_INTEGRITY);
  if (integrity === undefined || integrity.value.length !== 20) return false;
  // The length field is set as if MESSAGE-INTEGRITY were the last attribute.
  const covered = Buffer.from(bytes.subarray(0, integrity.offset));
  covered.writeUInt16BE(integrity.offset + 24 - HEADER_LENGTH, 2);
  const expected = createHmac('sha1', key).update(covered).digest();
  return Buffer.from(integrity.value).equals(expected);
}

function checkFingerprint(bytes: Uint8Array, fingerprint: RawAttribute, raw: readonly RawAttribute[]): void {
  // RFC 8489 §14.7: FINGERPRINT is last, and is CRC-32 of the message before it, XOR 0x5354554e.
  if (raw[raw.length - 1] !== fingerprint) throw new StunDecodeError('FINGERPRINT is not the last attribute');
  if (fingerprint.value.length !== 4) throw new StunDecodeError(`FINGERPRINT has length ${fingerprint.value.length}, expected 4`);
  const expected = (crc32(bytes.subarray(0, fingerprint.offset)) ^ FINGERPRINT_XOR) >>> 0;
  const received = readUint32(fingerprint.value, 0);
  if (expected !== received) {
    throw new StunDecodeError(`FINGERPRINT 0x${received.toString(16)} does not match 0x${expected.toString(16)}`);
  }
}

/** Decodes an RFC 8489 §14.1/§14.2 address value; with a transaction ID, un-XORs it. */
function decodeAddressValue(attribute: RawAttribute, transactionId?: Uint8Array): TransportAddress {
  const { value } = attribute;
  const name = `attribute 0x${attribute.type.toString(16).padStart(4, '0')}`;
  if (value.length < 4) throw new StunDecodeError(`${name} has length ${value.length}, too short for an address`);
  const family = value[1];
  const addressLength = family === 0x01 ? 4 : family === 0x02 ? 16 : -1;
  if (addressLength < 0) throw new StunDecodeError(`${name} has unknown address family 0x${(family ?? 0).toString(16)}`);
  if (value.length !== 4 + addressLength) {
    throw new StunDecodeError(`${name} has length ${value.length}, expected ${4 + addressLength} for its family`);
  }
  let port = readUint16(value, 2);
  const address = Uint8Array.prototype.slice.call(value, 4);
  if (transactionId !== undefined) {
    // RFC 8489 §14.2: port XOR the cookie's top 16 bits; address XOR cookie (IPv4) or cookie || transaction ID (IPv6).
    port ^= MAGIC_COOKIE >>> 16;
    const mask = new Uint8Array(16);
    new DataView(mask.buffer).setUint32(0, MAGIC_COOKIE);
    mask.set(transactionId, 4);
    for (let i = 0; i < address.length; i += 1) address[i] = (address[i] ?? 0) ^ (mask[i] ?? 0);
  }
  return transportAddress(ipFromBytes(address), port);
}

/** Checks the header and walks the attribute TLVs (RFC 8489 §5, §14). */
function splitAttributes(bytes: Uint8Array): RawAttribute[] {
  if (bytes.length < HEADER_LENGTH) throw new StunDecodeError(`${bytes.length} bytes is shorter than the 20-byte header`);
  if (((bytes[0] ?? 0) & 0xc0) !== 0) throw new StunDecodeError('the two most significant bits are not zero');
  const declaredLength = readUint16(bytes, 2);
  if (declaredLength % 4 !== 0) throw new StunDecodeError(`message length ${declaredLength} is not a multiple of 4`);
  if (declaredLength !== bytes.length - HEADER_LENGTH) {
    throw new StunDecodeError(`message length field says ${declaredLength} bytes but ${bytes.length - HEADER_LENGTH} follow the header`);
  }
  const cookie = readUint32(bytes, 4);
  if (cookie !== MAGIC_COOKIE) throw new StunDecodeError(`magic cookie is 0x${cookie.toString(16)}, not 0x2112a442`);
  const attributes: RawAttribute[] = [];
  let offset = HEADER_LENGTH;
  while (offset < bytes.length) {
    if (offset + 4 > bytes.length) throw new StunDecodeError(`truncated attribute header at byte ${offset}`);
    const type = readUint16(bytes, offset);
    const length = readUint16(bytes, offset + 2);
    const end = offset + 4 + length;
    if (end > bytes.length) throw new StunDecodeError(`attribute 0x${type.toString(16)} at byte ${offset} overruns the message`);
    attributes.push({ type, offset, value: bytes.subarray(offset + 4, end) });
    offset = end + ((4 - (length % 4)) % 4);
  }
  if (offset !== bytes.length) throw new StunDecodeError('attribute padding overruns the message');
  return attributes;
}

function readUint16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((readUint16(bytes, offset) << 16) | readUint16(bytes, offset + 2)) >>> 0;
}

function assign<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
