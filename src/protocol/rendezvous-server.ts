import { createHmac, randomBytes } from 'node:crypto';
import { formatTransportAddress, transportAddress, type TransportAddress } from '../codec/transport-address.js';
import type { DatagramAction } from './datagram-action.js';
import { SourceRateLimiter, type RateLimit } from './rate-limiter.js';
import { decodeRendezvousMessage, encodeRendezvousMessage, isRendezvousMessage, type RendezvousMessage } from './rendezvous-messages.js';

/** The rendezvous server's one socket. */
export type RendezvousSocketKey = 'signalling';

/** Configuration of the rendezvous server. */
export interface RendezvousServerConfig {
  readonly address: string;
  readonly port: number;
  /** Secret for cookies; random by default. */
  readonly secret?: Uint8Array;
  readonly limits?: Partial<RendezvousLimits>;
}

/** Every bound of the rendezvous server, in one place. */
export interface RendezvousLimits {
  /** Per source IP (two peers behind one carrier NAT poll about 8 times a second together). */
  readonly rateLimit: RateLimit;
  readonly maxRooms: number;
  /** A room is forgotten this long after it was made, whatever happens in it. */
  readonly roomLifetimeMs: number;
  /** A member that has not polled for this long leaves its room. */
  readonly memberIdleMs: number;
  /** Added to half the larger RTT before the agreed start, for the START to reach both. */
  readonly startMarginMs: number;
  /** A reported RTT above this is taken as this. */
  readonly maxRttMs: number;
}

/** Rendezvous server defaults. */
export const DEFAULT_RENDEZVOUS_LIMITS: RendezvousLimits = {
  rateLimit: { packetsPerSecond: 20, burst: 100 },
  maxRooms: 10_000,
  roomLifetimeMs: 10 * 60_000,
  memberIdleMs: 15_000,
  startMarginMs: 50,
  maxRttMs: 2_000,
};

/** Each room holds two peers. */
export const ROOM_SIZE = 2;

type Action = DatagramAction<RendezvousSocketKey>;

interface Member {
  readonly peerId: string;
  address: TransportAddress;
  info: Uint8Array;
  rttMs: number;
  lastSeenMs: number;
}

interface Room {
  readonly roomId: Uint8Array;
  readonly expiresAtMs: number;
  readonly members: Member[];
  /** The agreed start, on the server's clock, once two members are in. */
  startAtMs?: number;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const VIA: RendezvousSocketKey = 'signalling';

/**
 * The rendezvous (signalling) server, Sans-IO. Two peers that name the same room learn each other's info
 * and a common start time. It sends only to an address that asked for a cookie there and echoed it (so a
 * spoofed source gets nothing beyond one reply of the request's own size), every message is the same size,
 * a peer's info goes only to the other member of its room, and rooms are bounded in count, size and lifetime.
 *
 * The start is agreed as libp2p's DCUtR does: each peer reports its RTT to the server, and each START says
 * "begin in startAt − now − RTT/2", so both first packets leave at the same moment.
 */
export class RendezvousServerProtocol {
  private readonly rooms = new Map<string, Room>();
  private readonly limiter: SourceRateLimiter;
  private readonly secret: Uint8Array;
  readonly limits: RendezvousLimits;
  private lastSweepMs = -Infinity;

  constructor(readonly config: RendezvousServerConfig) {
    this.secret = config.secret ?? new Uint8Array(randomBytes(32));
    this.limits = { ...DEFAULT_RENDEZVOUS_LIMITS, ...config.limits };
    this.limiter = new SourceRateLimiter(this.limits.rateLimit);
  }

  /** The one socket. */
  sockets(): ReadonlyArray<{ readonly key: RendezvousSocketKey; readonly local: TransportAddress }> {
    return [{ key: VIA, local: transportAddress(this.config.address, this.config.port) }];
  }

  /** Handles one datagram. */
  handleDatagram(nowMs: number, bytes: Uint8Array, from: TransportAddress, _arrivedOn: RendezvousSocketKey = VIA): Action[] {
    if (!this.limiter.allow(from.address, nowMs)) return [{ type: 'ignore', reason: 'rate-limited' }];
    if (!isRendezvousMessage(bytes)) return [{ type: 'ignore', reason: 'not-rendezvous' }];
    const message = decodeRendezvousMessage(bytes);
    if (message === undefined) return [{ type: 'ignore', reason: 'malformed' }];
    this.sweep(nowMs);
    switch (message.type) {
      case 'hello':
        return [this.reply(from, { type: 'cookie', roomId: message.roomId, peerId: message.peerId, cookie: this.cookie(message, from), ...nonceOf(message), observed: from })];
      case 'join':
        if (!Buffer.from(this.cookie(message, from)).equals(Buffer.from(message.cookie ?? new Uint8Array(16)))) return [{ type: 'ignore', reason: 'bad-cookie' }];
        return this.join(nowMs, message, from);
      default:
        // COOKIE, WAITING, START and FULL are what the server sends, never what it answers.
        return [{ type: 'ignore', reason: 'unexpected' }];
    }
  }

  /** How many rooms are held. */
  get roomCount(): number {
    return this.rooms.size;
  }

  private join(nowMs: number, message: RendezvousMessage, from: TransportAddress): Action[] {
    const key = hex(message.roomId);
    let room = this.rooms.get(key);
    if (room === undefined) {
      if (this.rooms.size >= this.limits.maxRooms) return [this.reply(from, { type: 'full', roomId: message.roomId, peerId: message.peerId, ...nonceOf(message) })];
      room = { roomId: message.roomId, expiresAtMs: nowMs + this.limits.roomLifetimeMs, members: [] };
      this.rooms.set(key, room);
    }
    const peerId = hex(message.peerId);
    let member = room.members.find((m) => m.peerId === peerId);
    if (member === undefined) {
      if (room.members.length >= ROOM_SIZE) return [this.reply(from, { type: 'full', roomId: message.roomId, peerId: message.peerId, ...nonceOf(message) })];
      member = { peerId, address: from, info: new Uint8Array(0), rttMs: 0, lastSeenMs: nowMs };
      room.members.push(member);
    }
    // The cookie was checked against this address: a peer whose mapping changed re-registered with a new one.
    member.address = from;
    member.info = message.info ?? new Uint8Array(0);
    member.rttMs = Math.min(this.limits.maxRttMs, message.rttMs ?? 0);
    member.lastSeenMs = nowMs;
    const other = room.members.find((m) => m !== member);
    if (other === undefined) {
      return [this.reply(from, { type: 'waiting', roomId: message.roomId, peerId: message.peerId, ...nonceOf(message), observed: from, role: 'a' })];
    }
    const actions: Action[] = [];
    if (room.startAtMs === undefined) {
      room.startAtMs = nowMs + Math.max(member.rttMs, other.rttMs) / 2 + this.limits.startMarginMs;
      // The one unsolicited message: the waiting member learns of its peer now, not at its next poll.
      actions.push(this.start(nowMs, room, other, member, undefined));
    }
    actions.push(this.start(nowMs, room, member, other, message));
    return actions;
  }

  private start(nowMs: number, room: Room, to: Member, peer: Member, request: RendezvousMessage | undefined): Action {
    return this.reply(to.address, {
      type: 'start',
      roomId: room.roomId,
      peerId: Buffer.from(to.peerId, 'hex'),
      ...(request === undefined ? {} : nonceOf(request)),
      delayMs: Math.max(0, (room.startAtMs ?? nowMs) - nowMs - to.rttMs / 2),
      role: room.members[0] === to ? 'a' : 'b',
      observed: peer.address,
      info: peer.info,
    });
  }

  private reply(to: TransportAddress, message: RendezvousMessage): Action {
    return { type: 'send', via: VIA, to, bytes: encodeRendezvousMessage(message) };
  }

  private cookie(message: RendezvousMessage, address: TransportAddress): Uint8Array {
    return new Uint8Array(
      createHmac('sha256', this.secret).update(message.roomId).update(message.peerId).update(formatTransportAddress(address)).digest().subarray(0, 16),
    );
  }

  private sweep(nowMs: number): void {
    // At most once a second, so a flood of messages does not cost a scan each.
    if (nowMs - this.lastSweepMs < 1000) return;
    this.lastSweepMs = nowMs;
    for (const [key, room] of this.rooms) {
      if (room.expiresAtMs <= nowMs) {
        this.rooms.delete(key);
        continue;
      }
      const before = room.members.length;
      for (let i = room.members.length - 1; i >= 0; i -= 1) {
        if (nowMs - (room.members[i]?.lastSeenMs ?? 0) >= this.limits.memberIdleMs) room.members.splice(i, 1);
      }
      if (room.members.length === 0) this.rooms.delete(key);
      else if (room.members.length !== before) delete room.startAtMs;
    }
  }
}

function nonceOf(message: RendezvousMessage): { nonce?: Uint8Array } {
  return message.nonce === undefined ? {} : { nonce: message.nonce };
}
