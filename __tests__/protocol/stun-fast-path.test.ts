import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { transportAddress, type TransportAddress } from '../../src/codec/transport-address.js';
import { StunServerProtocol, type ServerAction, type ServerSocketKey, type StunServerConfig } from '../../src/protocol/stun-server.js';
import { answerWithCodec } from '../../src/protocol/stun-server-codec-path.js';

const corpus = JSON.parse(readFileSync(new URL('../../fixtures/stun-server-fuzz.json', import.meta.url), 'utf8')) as Array<{ what: string; hex: string }>;

const KEYS: ServerSocketKey[] = [
  { address: 'primary', port: 'primary' },
  { address: 'primary', port: 'alternate' },
  { address: 'alternate', port: 'primary' },
  { address: 'alternate', port: 'alternate' },
];
const CONFIGS: StunServerConfig[] = [
  { primaryAddress: '192.0.2.1', primaryPort: 3478, alternateAddress: '192.0.2.2', alternatePort: 3479, software: 'natscope test' },
  { primaryAddress: '2001:db8::1', primaryPort: 3478, alternateAddress: '2001:db8::2', alternatePort: 3479, software: 'odd-length software!' },
  { primaryAddress: '192.0.2.1', primaryPort: 3478 },
];
const SOURCES: TransportAddress[] = [transportAddress('198.51.100.7', 40000), transportAddress('2001:db8:ffff::7', 1)];

function attribute(type: number, value: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + ((value.length + 3) & ~3));
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(value.length, 2);
  Buffer.from(value).copy(out, 4);
  return out;
}

/** A Binding request from raw attributes, with a FINGERPRINT over it when asked. */
function request(attributes: Buffer[], fingerprint: boolean): Uint8Array {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(0x0001, 0);
  header.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(header, 8);
  let out = Buffer.concat([header, ...attributes]);
  out.writeUInt16BE(out.length - 20 + (fingerprint ? 8 : 0), 2);
  if (fingerprint) {
    const tail = Buffer.alloc(8);
    tail.writeUInt16BE(0x8028, 0);
    tail.writeUInt16BE(4, 2);
    tail.writeUInt32BE((crc32(out) ^ 0x5354554e) >>> 0, 4);
    out = Buffer.concat([out, tail]);
  }
  return new Uint8Array(out);
}

/** Every combination of the attributes a client may send to the server. */
function* validRequests(): Generator<{ name: string; bytes: Uint8Array }> {
  const u32 = (n: number): Uint8Array => Uint8Array.of(0, 0, 0, n);
  const changes: Array<[string, Buffer | undefined]> = [['no CHANGE-REQUEST', undefined], ...[0, 2, 4, 6].map((f): [string, Buffer] => [`CHANGE-REQUEST ${f}`, attribute(0x0003, u32(f))])];
  const ports: Array<[string, Buffer | undefined]> = [['no RESPONSE-PORT', undefined], ['RESPONSE-PORT/2', attribute(0x0027, Uint8Array.of(0x9c, 0x41))], ['RESPONSE-PORT/4', attribute(0x0027, Uint8Array.of(0x9c, 0x41, 0, 0))]];
  const paddings: Array<[string, Buffer | undefined]> = [['no PADDING', undefined], ...[0, 3, 100, 1500].map((n): [string, Buffer] => [`PADDING ${n}`, attribute(0x0026, new Uint8Array(n))])];
  const softwares: Array<[string, Buffer | undefined]> = [['no SOFTWARE', undefined], ['SOFTWARE', attribute(0x8022, Buffer.from('pion/stun client'))]];
  for (const [c, change] of changes)
    for (const [p, port] of ports)
      for (const [d, padding] of paddings)
        for (const [s, software] of softwares)
          for (const fingerprint of [false, true]) {
            const attributes = [software, change, port, padding].filter((a): a is Buffer => a !== undefined);
            yield { name: `${c}, ${p}, ${d}, ${s}, ${fingerprint ? 'FINGERPRINT' : 'no FINGERPRINT'}`, bytes: request(attributes, fingerprint) };
          }
}

const READ_BY_THE_SERVER = new Set([0x0003, 0x0026, 0x0027, 0x8028]);
const KNOWN = new Set([0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x0006, 0x0008, 0x0009, 0x000a, 0x0014, 0x0015, 0x0020, 0x0026, 0x0027, 0x8020, 0x8022, 0x8023, 0x8028, 0x802b, 0x802c]);

/**
 * The datagram with every attribute the server never reads (known ones other than CHANGE-REQUEST, RESPONSE-PORT, PADDING,
 * FINGERPRINT; unknown optional ones) turned into an opaque SOFTWARE of the same length, FINGERPRINT recomputed:
 * the codec then cannot reject a value the fast path by design never decodes. Undefined when the TLVs do not walk.
 */
function neutralised(bytes: Uint8Array): Uint8Array | undefined {
  const out = Buffer.from(bytes);
  let offset = 20;
  while (offset + 4 <= out.length) {
    const type = out.readUInt16BE(offset);
    const length = out.readUInt16BE(offset + 2);
    if (offset + 4 + length > out.length) return undefined;
    if (type === 0x8028 && offset + 8 === out.length && length === 4) {
      out.writeUInt32BE((crc32(out.subarray(0, offset)) ^ 0x5354554e) >>> 0, offset + 4);
    } else if (!READ_BY_THE_SERVER.has(type) && (KNOWN.has(type) || type >= 0x8000)) {
      out.writeUInt16BE(0x8022, offset);
    }
    offset += 4 + ((length + 3) & ~3);
  }
  return offset === out.length ? new Uint8Array(out) : undefined;
}

function compare(fast: ServerAction, codec: ServerAction): void {
  expect(fast.type).toBe(codec.type);
  if (fast.type === 'send' && codec.type === 'send') {
    expect(fast.via).toEqual(codec.via);
    expect(fast.to).toEqual(codec.to);
    expect(Buffer.from(fast.bytes).toString('hex')).toBe(Buffer.from(codec.bytes).toString('hex'));
  }
}

describe('the STUN server fast path against the codec path', () => {
  it('writes byte-identical answers to every combination of request attributes, IPv4 and IPv6, on each socket', () => {
    let compared = 0;
    let sends = 0;
    for (const config of CONFIGS) {
      const server = new StunServerProtocol({ ...config, rateLimit: 'off' });
      for (const source of SOURCES)
        for (const { bytes } of validRequests())
          for (const key of server.supportsRfc5780 ? KEYS : KEYS.slice(0, 1)) {
            const fast = server.handleDatagram(0, bytes, source, key);
            compare(fast, answerWithCodec(config, bytes, source, key));
            compared += 1;
            if (fast.type === 'send') sends += 1;
          }
    }
    expect(compared).toBe(2 * 300 * (4 + 4 + 1));
    expect(sends).toBe(compared);
  });

  it('keeps the amplification bound for a bare 20-byte request by dropping the same attributes the codec drops', () => {
    for (const config of CONFIGS)
      for (const source of SOURCES) {
        const bytes = request([], false);
        const fast = new StunServerProtocol({ ...config, rateLimit: 'off' }).handleDatagram(0, bytes, source, KEYS[0]!);
        compare(fast, answerWithCodec(config, bytes, source, KEYS[0]!));
        if (fast.type === 'send') expect(fast.bytes.length).toBeLessThanOrEqual(100);
      }
  });

  it(`decides like the codec (answer or drop, and the same bytes) on the fuzz corpus's ${corpus.length} datagrams with the magic cookie, except values it never reads`, () => {
    const server = new StunServerProtocol({ ...CONFIGS[0]!, rateLimit: 'off' });
    let withCookie = 0;
    let answered = 0;
    let valueOnly = 0;
    for (const { hex } of corpus) {
      const bytes = new Uint8Array(Buffer.from(hex, 'hex'));
      const fast = server.handleDatagram(0, bytes, SOURCES[0]!, KEYS[1]!);
      if (fast.type === 'send') expect(fast.bytes.length).toBeLessThanOrEqual(bytes.length * 5);
      if (bytes.length < 8 || Buffer.from(bytes.subarray(4, 8)).readUInt32BE(0) !== 0x2112a442) continue;
      withCookie += 1;
      if (fast.type === 'send') answered += 1;
      const codec = answerWithCodec(CONFIGS[0]!, bytes, SOURCES[0]!, KEYS[1]!);
      if (fast.type === 'send' && codec.type === 'ignore') {
        // By design the fast path does not decode values it never reads; the codec rejects bad ones. Only that may differ.
        expect(codec.detail).toMatch(/attribute values do not parse|attribute 0x[0-9a-f]{4} has/);
        const plain = neutralised(bytes);
        expect(plain).toBeDefined();
        compare(fast, answerWithCodec(CONFIGS[0]!, plain!, SOURCES[0]!, KEYS[1]!));
        valueOnly += 1;
      } else {
        compare(fast, codec);
      }
    }
    expect(valueOnly).toBeLessThan(withCookie / 4);
    // The corpus exercises both outcomes.
    expect(withCookie).toBeGreaterThan(1500);
    expect(answered).toBeGreaterThan(200);
    expect(withCookie - answered).toBeGreaterThan(500);
  });
});
