import { randomBytes } from 'node:crypto';
import stun from 'stun';
import { StunEncodeError } from '../errors.js';
import { AttributeType, ChangeRequestFlag, MessageType } from './constants.js';
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
  return build(MessageType.BINDING_REQUEST, fields.transactionId, fields.fingerprint ?? true, (message) => {
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
  return build(MessageType.BINDING_SUCCESS_RESPONSE, fields.transactionId, fields.fingerprint ?? true, (message) => {
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
  return build(MessageType.BINDING_ERROR_RESPONSE, fields.transactionId, fields.fingerprint ?? true, (message) => {
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
  addAttributes: (message: ReturnType<typeof stun.createMessage>) => void,
): Uint8Array {
  if (transactionId.length !== 12) throw new StunEncodeError(`transaction ID has ${transactionId.length} bytes, expected 12`);
  try {
    const message = stun.createMessage(type, Buffer.from(transactionId));
    addAttributes(message);
    if (fingerprint) message.addFingerprint();
    return new Uint8Array(message.toBuffer());
  } catch (cause) {
    throw new StunEncodeError((cause as Error).message, { cause });
  }
}
