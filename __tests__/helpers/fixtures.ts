import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

interface Vector {
  readonly section: string;
  readonly hex: string;
  readonly password: string;
  readonly software?: string;
  readonly username?: string;
  readonly realm?: string;
  readonly nonce?: string;
  readonly xorMappedAddress?: { address: string; port: number };
}

/** RFC 5769 sample messages from fixtures/rfc5769.json. */
export const rfc5769 = JSON.parse(readFileSync(new URL('../../fixtures/rfc5769.json', import.meta.url), 'utf8')) as Record<
  'sampleRequest' | 'sampleIPv4Response' | 'sampleIPv6Response' | 'sampleRequestLongTerm',
  Vector
>;

/** The bytes of a vector. */
export function bytesOf(vector: Vector): Uint8Array {
  return new Uint8Array(Buffer.from(vector.hex, 'hex'));
}

/** RFC 8489 §9.2.2 long-term key: MD5(username ":" realm ":" password). */
export function longTermKey(username: string, realm: string, password: string): Uint8Array {
  return new Uint8Array(createHash('md5').update(`${username}:${realm}:${password}`).digest());
}

/** Appends a raw attribute to an encoded message, fixing the length (no FINGERPRINT). */
export function withRawAttribute(message: Uint8Array, type: number, value: Uint8Array): Uint8Array {
  const padded = Math.ceil(value.length / 4) * 4;
  const out = Buffer.alloc(message.length + 4 + padded);
  Buffer.from(message).copy(out);
  out.writeUInt16BE(type, message.length);
  out.writeUInt16BE(value.length, message.length + 2);
  Buffer.from(value).copy(out, message.length + 4);
  out.writeUInt16BE(out.length - 20, 2);
  return new Uint8Array(out);
}
