import { createHmac, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import stun from 'stun';
import { StunEncodeError } from '../errors.js';
import { AttributeType, ChangeRequestFlag, FINGERPRINT_XOR, HEADER_LENGTH, MessageType } from './constants.js';
import type { ChangeRequest } from './decode.js';
import type { TransportAddress } from './transport-address.js';

/** A fresh random 96-bit transaction ID (RFC 8489 §6: uniformly random). */
export function createTransactionId(): Uint8Array {
  return new Uint8Array(randomBytes(12));
}

/** What a Binding request carries. */
export interface BindingRequestFields {
  readonly transactionId: Uint8Array;
  /** RFC 5780 §7.2 CHANGE-REQUEST; omitted when undefined. */
  readonly changeRequest?: ChangeRequest;
  /** RFC 8489 §14.7: natscope adds FINGERPRINT unless told not to. */
  readonly fingerprint?: boolean;
  /** RFC 8489 §14.3 USERNAME (ICE connectivity checks: "RFRAG:LFRAG", RFC 8445 §7.2.2). */
  readonly username?: string;
  /** Short-term credential key: adds MESSAGE-INTEGRITY (RFC 8489 §14.5, §9.1.1) before FINGERPRINT. */
  readonly integrityKey?: Uint8Array;
}

/** What a Binding success response carries (RFC 8489 §6.3.1.1, RFC 5780 §6.1). */
export interface BindingSuccessFields {
  readonly transactionId: Uint8Array;
  readonly xorMappedAddress: TransportAddress;
  readonly mappedAddress?: TransportAddress;
  readonly responseOrigin?: TransportAddress;
  readonly otherAddress?: TransportAddress;
  readonly software?: string;
  readonly paddingLength?: number;
  readonly fingerprint?: boolean;
  /** Short-term credential key: adds MESSAGE-INTEGRITY (RFC 8489 §14.5) before FINGERPRINT. */
  readonly integrityKey?: Uint8Array;
}

/** What a Binding error response carries (RFC 8489 §6.3.4). */
export interface BindingErrorFields {
  readonly transactionId: Uint8Array;
  readonly code: number;
  readonly reason: string;
  readonly unknownAttributes?: readonly number[];
  readonly software?: string;
  readonly fingerprint?: boolean;
}

/** Encodes a Binding request. */
export function encodeBindingRequest(fields: BindingRequestFields): Uint8Array {
  return build(MessageType.BINDING_REQUEST, fields.transactionId, fields.fingerprint ?? true, fields.integrityKey, (message) => {
    if (fields.username !== undefined) message.addAttribute(AttributeType.USERNAME, fields.username);
    if (fields.changeRequest !== undefined) {
      const flags =
        (fields.changeRequest.changeIp ? ChangeRequestFlag.CHANGE_IP : 0) |
        (fields.changeRequest.changePort ? ChangeRequestFlag.CHANGE_PORT : 0);
      message.addAttribute(AttributeType.CHANGE_REQUEST, flags);
    }
  });
}

/** Encodes a Binding success response. */
export function encodeBindingSuccessResponse(fields: BindingSuccessFields): Uint8Array {
  return build(MessageType.BINDING_SUCCESS_RESPONSE, fields.transactionId, fields.fingerprint ?? true, fields.integrityKey, (message) => {
    const add = (type: number, address: TransportAddress | undefined): void => {
      if (address !== undefined) message.addAttribute(type, address.address, address.port);
    };
    add(AttributeType.XOR_MAPPED_ADDRESS, fields.xorMappedAddress);
    add(AttributeType.MAPPED_ADDRESS, fields.mappedAddress);
    add(AttributeType.RESPONSE_ORIGIN, fields.responseOrigin);
    add(AttributeType.OTHER_ADDRESS, fields.otherAddress);
    if (fields.software !== undefined) message.addAttribute(AttributeType.SOFTWARE, fields.software);
    if (fields.paddingLength !== undefined && fields.paddingLength > 0) {
      message.addAttribute(AttributeType.PADDING, Buffer.alloc(fields.paddingLength));
    }
  });
}

/** Encodes a Binding error response. */
export function encodeBindingErrorResponse(fields: BindingErrorFields): Uint8Array {
  return build(MessageType.BINDING_ERROR_RESPONSE, fields.transactionId, fields.fingerprint ?? true, undefined, (message) => {
    message.addAttribute(AttributeType.ERROR_CODE, fields.code, fields.reason);
    if (fields.unknownAttributes !== undefined && fields.unknownAttributes.length > 0) {
      message.addAttribute(AttributeType.UNKNOWN_ATTRIBUTES, [...fields.unknownAttributes]);
    }
    if (fields.software !== undefined) message.addAttribute(AttributeType.SOFTWARE, fields.software);
  });
}

function build(
  type: number,
  transactionId: Uint8Array,
  fingerprint: boolean,
  integrityKey: Uint8Array | undefined,
  addAttributes: (message: ReturnType<typeof stun.createMessage>) => void,
): Uint8Array {
  if (transactionId.length !== 12) throw new StunEncodeError(`transaction ID has ${transactionId.length} bytes, expected 12`);
  let bytes: Uint8Array;
  try {
    const message = stun.createMessage(type, Buffer.from(transactionId));
    addAttributes(message);
    if (fingerprint && integrityKey === undefined) message.addFingerprint();
    bytes = new Uint8Array(message.toBuffer());
  } catch (cause) {
    throw new StunEncodeError((cause as Error).message, { cause });
  }
  if (integrityKey === undefined) return bytes;
  // Done here, over our own bytes: MESSAGE-INTEGRITY then FINGERPRINT must be the last two attributes in that order.
  bytes = appendMessageIntegrity(bytes, integrityKey);
  return fingerprint ? appendFingerprint(bytes) : bytes;
}

/** RFC 8489 §14.5: HMAC-SHA1 over the message with its length field already counting the 24-byte attribute. */
function appendMessageIntegrity(bytes: Uint8Array, key: Uint8Array): Uint8Array {
  const out = Buffer.alloc(bytes.length + 24);
  out.set(bytes);
  out.writeUInt16BE(bytes.length + 24 - HEADER_LENGTH, 2);
  const hmac = createHmac('sha1', key).update(out.subarray(0, bytes.length)).digest();
  out.writeUInt16BE(AttributeType.MESSAGE_INTEGRITY, bytes.length);
  out.writeUInt16BE(20, bytes.length + 2);
  out.set(hmac, bytes.length + 4);
  return new Uint8Array(out);
}

/** RFC 8489 §14.7: CRC-32 of the message before it (length counting it) XOR 0x5354554e. */
function appendFingerprint(bytes: Uint8Array): Uint8Array {
  const out = Buffer.alloc(bytes.length + 8);
  out.set(bytes);
  out.writeUInt16BE(bytes.length + 8 - HEADER_LENGTH, 2);
  const value = (crc32(out.subarray(0, bytes.length)) ^ FINGERPRINT_XOR) >>> 0;
  out.writeUInt16BE(AttributeType.FINGERPRINT, bytes.length);
  out.writeUInt16BE(4, bytes.length + 2);
  out.writeUInt32BE(value, bytes.length + 4);
  return new Uint8Array(out);
}
