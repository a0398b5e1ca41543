import { crc32 } from 'node:zlib';
import { AttributeType, FINGERPRINT_XOR, HEADER_LENGTH, MAGIC_COOKIE, isComprehensionRequired } from '../codec/constants.js';
import { ipToBytes } from '../codec/transport-address.js';

/**
 * The STUN server's hot path on raw bytes, Sans-IO: one bounded walk over the attribute headers of a request
 * (RFC 8489 §5, §14), reading only the attributes the server acts on, and a response written into a
 * preallocated buffer. The general codec (`src/codec/`) stays for clients and tests, which prove the two equal.
 */

/** Why the fast path drops a datagram without answering. */
export type FastDropReason = 'not-stun' | 'malformed' | 'not-a-binding-request' | 'bad-response-port';

/** What the server learned from a Binding request's bytes: offsets and a few numbers, nothing decoded beyond need. */
export interface BindingRequestView {
  /** RFC 3489 request: no magic cookie, a 128-bit transaction ID (RFC 8489 §12). */
  readonly legacy: boolean;
  /** RFC 5780 §7.2 CHANGE-REQUEST flags (0 when absent). */
  readonly changeFlags: number;
  readonly hasChangeRequest: boolean;
  /** RFC 5780 §7.5 RESPONSE-PORT, or -1 when absent. */
  readonly responsePort: number;
  /** RFC 5780 §7.6 PADDING value length, or -1 when absent. */
  readonly paddingLength: number;
  /** Comprehension-required attribute types the server does not know (RFC 8489 §6.3.1), in order received. */
  readonly unknownRequired: readonly number[] | undefined;
}

const KNOWN_ATTRIBUTES: ReadonlySet<number> = new Set<number>(Object.values(AttributeType));
const BINDING_REQUEST = 0x0001;

/**
 * Reads a datagram as a Binding request, or says why it is dropped. Bounded work: the header, then at most
 * one step per 4 bytes of the datagram, reading the values of CHANGE-REQUEST, RESPONSE-PORT, PADDING's length
 * and FINGERPRINT only; the first inconsistency drops the datagram.
 */
export function readBindingRequest(bytes: Uint8Array): BindingRequestView | FastDropReason {
  const size = bytes.length;
  // RFC 8489 §5: 20-byte header, top two bits zero, length field = bytes after the header.
  if (size < HEADER_LENGTH || (bytes[0]! & 0xc0) !== 0) return 'not-stun';
  const declared = (bytes[2]! << 8) | bytes[3]!;
  if (declared !== size - HEADER_LENGTH) return 'not-stun';
  const cookie = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
  const type = (bytes[0]! << 8) | bytes[1]!;
  // RFC 8489 §12 / RFC 3489 §11.1: without the magic cookie only an RFC 3489 Binding request is answered.
  const legacy = cookie !== MAGIC_COOKIE;
  if (legacy && type !== BINDING_REQUEST) return 'not-stun';
  if ((declared & 3) !== 0) return 'malformed';
  // RFC 8489 §6.3: only requests are answered; indications and responses are dropped unread.
  if (type !== BINDING_REQUEST) return 'not-a-binding-request';

  let changeFlags = 0;
  let hasChangeRequest = false;
  let responsePort = -1;
  let paddingLength = -1;
  let unknownRequired: Set<number> | undefined;
  let fingerprintAt = -1;
  let offset = HEADER_LENGTH;
  while (offset < size) {
    if (fingerprintAt >= 0) return 'malformed'; // RFC 8489 §14.7: FINGERPRINT is the last attribute
    if (offset + 4 > size) return 'malformed';
    const attribute = (bytes[offset]! << 8) | bytes[offset + 1]!;
    const length = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    const value = offset + 4;
    if (value + length > size) return 'malformed';
    switch (attribute) {
      case AttributeType.CHANGE_REQUEST:
        // RFC 5780 §7.2: a 32-bit value, the flags in its last byte. The first one counts; extra bytes are ignored.
        if (length < 4) return 'malformed';
        if (!hasChangeRequest) {
          hasChangeRequest = true;
          changeFlags = bytes[value + 3]! & 0x06;
        }
        break;
      case AttributeType.RESPONSE_PORT:
        // RFC 5780 §7.5: 16 bits of port then 16 of padding; some clients send length 2.
        if (length !== 2 && length !== 4) return 'malformed';
        if (responsePort < 0) responsePort = (bytes[value]! << 8) | bytes[value + 1]!;
        break;
      case AttributeType.PADDING:
        if (paddingLength < 0) paddingLength = length;
        break;
      case AttributeType.FINGERPRINT:
        if (!legacy) {
          if (length !== 4) return 'malformed';
          fingerprintAt = offset;
        }
        break;
      default:
        // Each unknown type is listed once (a Set: 300 copies of one type cost 300 steps, not 300²).
        if (isComprehensionRequired(attribute) && !KNOWN_ATTRIBUTES.has(attribute)) (unknownRequired ??= new Set()).add(attribute);
    }
    offset = value + ((length + 3) & ~3);
  }
  if (offset !== size) return 'malformed';
  if (fingerprintAt >= 0) {
    // RFC 8489 §14.7: CRC-32 of the message up to the attribute, XOR 0x5354554e.
    const expected = (crc32(bytes.subarray(0, fingerprintAt)) ^ FINGERPRINT_XOR) >>> 0;
    const v = fingerprintAt + 4;
    const received = ((bytes[v]! << 24) | (bytes[v + 1]! << 16) | (bytes[v + 2]! << 8) | bytes[v + 3]!) >>> 0;
    if (expected !== received) return 'malformed';
  }
  return { legacy, changeFlags, hasChangeRequest, responsePort, paddingLength, unknownRequired: unknownRequired === undefined ? undefined : [...unknownRequired] };
}

/** One of the server's sockets: index = 2 × (alternate address) + (alternate port). */
export type SocketIndex = 0 | 1 | 2 | 3;

/** What the writer needs to know of the server, fixed at start. */
export interface ResponseLayout {
  /** The local transport address of each socket by SocketIndex (one entry for a plain RFC 8489 server). */
  readonly socketAddresses: ReadonlyArray<{ readonly address: string; readonly port: number }>;
  readonly software?: string;
}

/** Attribute bytes of an RFC 8489 §14.1 address (type, length, 0, family, port, address). */
function addressAttribute(type: number, address: string, port: number): Uint8Array {
  const ip = ipToBytes(address);
  const out = new Uint8Array(8 + ip.length);
  out[0] = type >> 8;
  out[1] = type & 0xff;
  out[3] = 4 + ip.length;
  out[5] = ip.length === 4 ? 0x01 : 0x02;
  out[6] = port >> 8;
  out[7] = port & 0xff;
  out.set(ip, 8);
  return out;
}

const ERROR_RESPONSE = 0x0111;
const SUCCESS_RESPONSE = 0x0101;

/**
 * Writes Binding responses into one preallocated buffer. Every fixed attribute (RESPONSE-ORIGIN and OTHER-ADDRESS
 * per socket, their RFC 3489 twins SOURCE-ADDRESS and CHANGED-ADDRESS, SOFTWARE) is encoded once at start; per
 * packet only the transaction ID, the (XOR-)MAPPED-ADDRESS, PADDING's zeros and the FINGERPRINT CRC are written.
 */
export class BindingResponseWriter {
  private readonly scratch: Buffer;
  private readonly responseOrigin: Uint8Array[];
  private readonly otherAddress: Uint8Array[] | undefined;
  private readonly sourceAddress: Uint8Array[];
  private readonly changedAddress: Uint8Array[] | undefined;
  private readonly software: Uint8Array | undefined;

  constructor(layout: ResponseLayout) {
    const sockets = layout.socketAddresses;
    this.responseOrigin = sockets.map((s) => addressAttribute(AttributeType.RESPONSE_ORIGIN, s.address, s.port));
    this.sourceAddress = sockets.map((s) => addressAttribute(AttributeType.SOURCE_ADDRESS, s.address, s.port));
    if (sockets.length === 4) {
      // RFC 5780 §7.4 / RFC 3489 §11.2.3: the socket that differs in both address and port from the arrival socket.
      this.otherAddress = sockets.map((_, i) => addressAttribute(AttributeType.OTHER_ADDRESS, sockets[3 - i]!.address, sockets[3 - i]!.port));
      this.changedAddress = sockets.map((_, i) => addressAttribute(AttributeType.CHANGED_ADDRESS, sockets[3 - i]!.address, sockets[3 - i]!.port));
    }
    if (layout.software !== undefined) {
      const text = Buffer.from(layout.software, 'utf8');
      const out = new Uint8Array(4 + ((text.length + 3) & ~3));
      out[0] = AttributeType.SOFTWARE >> 8;
      out[1] = AttributeType.SOFTWARE & 0xff;
      out[2] = text.length >> 8;
      out[3] = text.length & 0xff;
      out.set(text, 4);
      this.software = out;
    }
    // The largest response: header, two 24-byte IPv6 addresses, origin, other, SOFTWARE, a 64 KiB pad, FINGERPRINT.
    this.scratch = Buffer.alloc(20 + 24 * 4 + (this.software?.length ?? 0) + 4 + 65_536 + 8);
  }

  /**
   * The success response to `request`, sized to fit `budgetBytes` (RFC 8489 §6.3 amplification bound): optional parts
   * are dropped in a fixed order (SOFTWARE, PADDING, MAPPED-ADDRESS, FINGERPRINT) by arithmetic, not by encoding
   * variants in turn. Undefined when even the smallest does not fit. The result is a fresh copy.
   */
  writeSuccess(
    request: Uint8Array,
    view: BindingRequestView,
    sourceIp: Uint8Array,
    sourcePort: number,
    arrivedOn: SocketIndex,
    via: SocketIndex,
    budgetBytes: number,
  ): Uint8Array | undefined {
    const addressLength = 8 + sourceIp.length;
    const origin = (view.legacy ? this.sourceAddress : this.responseOrigin)[via]!;
    const other = (view.legacy ? this.changedAddress : this.otherAddress)?.[arrivedOn];
    const fixed = 20 + origin.length + (other?.length ?? 0);
    if (view.legacy) {
      // RFC 8489 §12 / RFC 3489 §11.2: MAPPED-ADDRESS, SOURCE-ADDRESS, CHANGED-ADDRESS only. RFC 3489 parsers
      // (stund's) reject unknown comprehension-required attributes and know no attribute padding: no PADDING, no SOFTWARE.
      const size = fixed + addressLength;
      if (size > budgetBytes) return undefined;
      const out = this.scratch;
      this.header(out, request, SUCCESS_RESPONSE, size);
      let at = this.address(out, 20, AttributeType.MAPPED_ADDRESS, sourceIp, sourcePort, undefined);
      out.set(origin, at);
      at += origin.length;
      if (other !== undefined) out.set(other, at);
      return copy(out, size);
    }
    const softwareLength = this.software?.length ?? 0;
    const padLength = view.paddingLength > 0 ? 4 + ((view.paddingLength + 3) & ~3) : 0;
    const all = fixed + addressLength * 2 + softwareLength + padLength + 8;
    let withSoftware = true;
    let withPadding = padLength > 0;
    let withMapped = true;
    let withFingerprint = true;
    let size = all;
    if (size > budgetBytes) {
      withSoftware = false;
      size -= softwareLength;
    }
    if (size > budgetBytes) {
      withPadding = false;
      size -= padLength;
    }
    if (size > budgetBytes) {
      withMapped = false;
      size -= addressLength;
    }
    if (size > budgetBytes) {
      withFingerprint = false;
      size -= 8;
    }
    if (size > budgetBytes) return undefined;

    const out = this.scratch;
    this.header(out, request, SUCCESS_RESPONSE, size);
    let at = this.address(out, 20, AttributeType.XOR_MAPPED_ADDRESS, sourceIp, sourcePort, request);
    if (withMapped) at = this.address(out, at, AttributeType.MAPPED_ADDRESS, sourceIp, sourcePort, undefined);
    out.set(origin, at);
    at += origin.length;
    if (other !== undefined) {
      out.set(other, at);
      at += other.length;
    }
    if (withSoftware && this.software !== undefined) {
      out.set(this.software, at);
      at += this.software.length;
    }
    if (withPadding) {
      out.writeUInt16BE(AttributeType.PADDING, at);
      out.writeUInt16BE(view.paddingLength, at + 2);
      out.fill(0, at + 4, at + padLength);
      at += padLength;
    }
    if (withFingerprint) this.fingerprint(out, at);
    return copy(out, size);
  }

  /** An error response (RFC 8489 §6.3.4): ERROR-CODE, UNKNOWN-ATTRIBUTES for 420, FINGERPRINT unless RFC 3489. */
  writeError(request: Uint8Array, legacy: boolean, code: number, reason: string, unknownAttributes?: readonly number[]): Uint8Array {
    const reasonLength = Buffer.byteLength(reason, 'utf8');
    const errorLength = 4 + 4 + ((reasonLength + 3) & ~3);
    const unknownCount = unknownAttributes?.length ?? 0;
    const unknownLength = unknownCount > 0 ? 4 + ((unknownCount * 2 + 3) & ~3) : 0;
    const size = 20 + errorLength + unknownLength + (legacy ? 0 : 8);
    const out = size <= this.scratch.length ? this.scratch : Buffer.alloc(size);
    this.header(out, request, ERROR_RESPONSE, size);
    let at = 20;
    // RFC 8489 §14.8: 21 reserved bits, class (hundreds), number (0-99), reason phrase.
    out.writeUInt16BE(AttributeType.ERROR_CODE, at);
    out.writeUInt16BE(4 + reasonLength, at + 2);
    out.writeUInt16BE(0, at + 4);
    out[at + 6] = Math.floor(code / 100);
    out[at + 7] = code % 100;
    out.fill(0, at + 8, at + errorLength);
    out.write(reason, at + 8, 'utf8');
    at += errorLength;
    if (unknownCount > 0) {
      out.writeUInt16BE(AttributeType.UNKNOWN_ATTRIBUTES, at);
      out.writeUInt16BE(unknownCount * 2, at + 2);
      out.fill(0, at + 4, at + unknownLength);
      for (let i = 0; i < unknownCount; i += 1) out.writeUInt16BE(unknownAttributes![i]!, at + 4 + i * 2);
      at += unknownLength;
    }
    if (!legacy) this.fingerprint(out, at);
    return copy(out, size);
  }

  private header(out: Buffer, request: Uint8Array, type: number, size: number): void {
    out[0] = type >> 8;
    out[1] = type & 0xff;
    out[2] = (size - 20) >> 8;
    out[3] = (size - 20) & 0xff;
    // RFC 8489 §12: the cookie (or an RFC 3489 client's first transaction ID bytes) and the transaction ID are echoed.
    out.set(request.subarray(4, 20), 4);
  }

  /** Writes (XOR-)MAPPED-ADDRESS at `at`; XOR'd with the cookie and transaction ID of `xorWith` when given (RFC 8489 §14.2). */
  private address(out: Buffer, at: number, type: number, ip: Uint8Array, port: number, xorWith: Uint8Array | undefined): number {
    out[at] = type >> 8;
    out[at + 1] = type & 0xff;
    out[at + 2] = 0;
    out[at + 3] = 4 + ip.length;
    out[at + 4] = 0;
    out[at + 5] = ip.length === 4 ? 0x01 : 0x02;
    const p = xorWith === undefined ? port : port ^ (MAGIC_COOKIE >>> 16);
    out[at + 6] = p >> 8;
    out[at + 7] = p & 0xff;
    if (xorWith === undefined) out.set(ip, at + 8);
    else for (let i = 0; i < ip.length; i += 1) out[at + 8 + i] = ip[i]! ^ xorWith[4 + i]!; // cookie ‖ transaction ID
    return at + 8 + ip.length;
  }

  private fingerprint(out: Buffer, at: number): void {
    out.writeUInt16BE(AttributeType.FINGERPRINT, at);
    out.writeUInt16BE(4, at + 2);
    out.writeUInt32BE((crc32(out.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0, at + 4);
  }
}

function copy(from: Buffer, size: number): Uint8Array {
  // The scratch buffer is reused by the next packet while the socket may still hold this one: hand out a copy.
  const out = Buffer.allocUnsafe(size);
  from.copy(out, 0, 0, size);
  return out;
}

/** The 4 bytes of a dotted IPv4 text, or the 16 of IPv6, without building intermediate strings for IPv4. */
export function sourceIpBytes(address: string, into4: Uint8Array): Uint8Array {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < address.length; i += 1) {
    const c = address.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || part > 2) return ipToBytes(address);
      into4[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      digits += 1;
      if (value > 255) return ipToBytes(address);
    } else {
      return ipToBytes(address);
    }
  }
  if (part !== 3 || digits === 0) return ipToBytes(address);
  into4[3] = value;
  return into4;
}
