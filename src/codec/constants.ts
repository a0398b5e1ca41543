/** The fixed magic cookie of every RFC 5389/8489 message (RFC 8489 §5). */
export const MAGIC_COOKIE = 0x2112a442;

/** The 32-bit value XORed into the CRC-32 of FINGERPRINT (RFC 8489 §14.7). */
export const FINGERPRINT_XOR = 0x5354554e;

/** STUN message header length in bytes (RFC 8489 §5). */
export const HEADER_LENGTH = 20;

/** Message types used by natscope (RFC 8489 §5, §18.1). */
export const MessageType = {
  BINDING_REQUEST: 0x0001,
  BINDING_INDICATION: 0x0011,
  BINDING_SUCCESS_RESPONSE: 0x0101,
  BINDING_ERROR_RESPONSE: 0x0111,
} as const;

/** Attribute types, named as in their RFCs (RFC 8489 §18.3, RFC 5780 §9.1, RFC 3489 §11.2). */
export const AttributeType = {
  MAPPED_ADDRESS: 0x0001,
  RESPONSE_ADDRESS: 0x0002, // RFC 3489 only
  CHANGE_REQUEST: 0x0003, // RFC 5780 §7.2 (was RFC 3489 §11.2.4)
  SOURCE_ADDRESS: 0x0004, // RFC 3489 §11.2.5
  CHANGED_ADDRESS: 0x0005, // RFC 3489 §11.2.3
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_MAPPED_ADDRESS: 0x0020,
  PADDING: 0x0026, // RFC 5780 §7.6
  RESPONSE_PORT: 0x0027, // RFC 5780 §7.5
  XOR_MAPPED_ADDRESS_LEGACY: 0x8020, // pre-RFC 5389 drafts; a few old servers still send it
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  RESPONSE_ORIGIN: 0x802b, // RFC 5780 §7.3
  OTHER_ADDRESS: 0x802c, // RFC 5780 §7.4
} as const;

/** CHANGE-REQUEST flag bits (RFC 5780 §7.2). */
export const ChangeRequestFlag = {
  CHANGE_IP: 0x04,
  CHANGE_PORT: 0x02,
} as const;

/** Attribute types 0x0000-0x7FFF are comprehension-required (RFC 8489 §14). */
export function isComprehensionRequired(attributeType: number): boolean {
  return attributeType < 0x8000;
}
