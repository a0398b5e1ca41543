/**
 * How long does a NAT keep an idle hole open? A Sans-IO planner that answers with many probe sockets.
 *
 * A socket's hole is "read" by asking the echo server to send to it: the probe gets in when the mapping
 * (and filter) is still there at that idle age. A probe that gets in also refreshes the mapping (and may change
 * its timeout class), so each socket is read once; one that does not get in leaves a dead socket.
 * The planner keeps sockets of staggered ages: the oldest is read on a geometric ladder of ages until one is
 * closed, and the younger ones, whose ages by then lie inside the bracket, are read at once to narrow it.
 * Its inputs are time and read results; it never touches a socket or a timer.
 */

/** Tuning and limits of a search. */
export interface LifetimeSearchConfig {
  /** The most mappings held at once (a carrier NAT's port quota). */
  readonly maxSockets: number;
  /** Give up, reporting "still open", when holes outlive this. */
  readonly maxLifetimeMs: number;
  /** Smallest gap between two socket openings. */
  readonly minOpenSpacingMs?: number;
  /** Ladder ratio: each ladder read tests an age this much above the last (the time target is 1.25 L + 5 s). */
  readonly ladderRatio?: number;
  /** The most of the quota the ladder pool may take (each open ladder read retires a mapping). */
  readonly ladderShare?: number;
  /** Staggered openings are spaced by elapsed time × this (a socket opened at t serves brackets near 6t). */
  readonly openSpacingRatio?: number;
  /** Smallest ladder step: the time target's 5 s of slack lets small lifetimes be stepped over coarsely. */
  readonly ladderStepMs?: number;
  /** Tolerance: stop when upper − lower ≤ max(absoluteToleranceMs, relativeTolerance × lower). */
  readonly absoluteToleranceMs?: number;
  readonly relativeTolerance?: number;
}

/** The defaults: 64 mappings, 600 s, 1 s or 2%. */
export const DEFAULT_LIFETIME_SEARCH: Required<LifetimeSearchConfig> = {
  maxSockets: 64,
  maxLifetimeMs: 600_000,
  minOpenSpacingMs: 900,
  ladderRatio: 1.2,
  ladderShare: 0.5,
  openSpacingRatio: 0.11,
  ladderStepMs: 4000,
  absoluteToleranceMs: 1000,
  relativeTolerance: 0.02,
};

/** What the driver must do. */
export type LifetimeAction =
  | { readonly type: 'open'; readonly socketId: number }
  | { readonly type: 'read'; readonly socketId: number }
  | { readonly type: 'close'; readonly socketId: number }
  | { readonly type: 'wait'; readonly untilMs: number | undefined }
  | { readonly type: 'done'; readonly result: LifetimeResult };

/** The answer: the hole lives at least `lowerMs` and at most `upperMs` (null when still open at the bound). */
export interface LifetimeResult {
  readonly lowerMs: number;
  readonly upperMs: number | null;
  readonly reads: number;
  readonly socketsOpened: number;
  readonly peakSockets: number;
  readonly elapsedMs: number;
}

interface SocketState {
  readonly id: number;
  /** Ladder sockets are all opened at the start, so each ladder read tests an age equal to the elapsed time. */
  readonly pool: 'ladder' | 'staggered';
  state: 'opening' | 'idle' | 'reading';
  /** When its mapping last saw traffic (its age counts from here). */
  idleSinceMs: number;
}

/** The planner. Feed it `opened`, `readResult` and time; do what `poll` says. */
export class LifetimeSearch {
  private readonly config: Required<LifetimeSearchConfig>;
  private readonly sockets = new Map<number, SocketState>();
  private nextId = 1;
  private lastOpenMs = -Infinity;
  private lowerMs = 0;
  private upperMs = Infinity;
  private nextLadderAgeMs: number;
  private reads = 0;
  private opened = 0;
  private peak = 0;
  private finished: LifetimeResult | undefined;
  private retired: number[] = [];
  /** When each read-open socket was retired: its mapping lives on in the NAT and counts against the quota. */
  private retiredAtMs: number[] = [];

  constructor(
    config: Partial<LifetimeSearchConfig>,
    private readonly startMs: number,
  ) {
    this.config = { ...DEFAULT_LIFETIME_SEARCH, ...config };
    if (this.config.maxSockets < 4) throw new RangeError(`a lifetime search needs at least 4 sockets, not ${this.config.maxSockets}`);
    this.nextLadderAgeMs = this.config.ladderStepMs;
  }

  /** The ladder: +ladderStepMs while that is more than ×ladderRatio, then ×ladderRatio. */
  private nextLadderAge(ageMs: number): number {
    return Math.max(ageMs * this.config.ladderRatio, ageMs + this.config.ladderStepMs);
  }

  /** Enough ladder sockets to climb to the bound, within the ladder's share of the quota. */
  private ladderPoolSize(): number {
    let reads = 1;
    for (let age = this.config.ladderStepMs; age < this.config.maxLifetimeMs; age = this.nextLadderAge(age)) reads += 1;
    return Math.max(2, Math.min(reads, Math.floor(this.config.maxSockets * this.config.ladderShare)));
  }

  /** The bracket so far. */
  get bracket(): { lowerMs: number; upperMs: number } {
    return { lowerMs: this.lowerMs, upperMs: this.upperMs };
  }

  /** A socket asked for by an 'open' action now has its mapping (registration answered at `atMs`). */
  openedAt(socketId: number, atMs: number): void {
    const socket = this.sockets.get(socketId);
    if (socket === undefined) return;
    socket.state = 'idle';
    socket.idleSinceMs = atMs;
  }

  /** An 'open' failed (registration lost): forget the socket. */
  openFailed(socketId: number): void {
    this.sockets.delete(socketId);
  }

  /** A read got no answer from the server (its request or ack lost): the socket's state is unknown, drop it. */
  readLost(socketId: number): void {
    this.sockets.delete(socketId);
  }

  /** The read of `socketId` found the hole open (a probe came in at `atMs`) or closed (`atMs` = when it would have). */
  readResult(socketId: number, open: boolean, atMs: number): void {
    const socket = this.sockets.get(socketId);
    if (socket === undefined || socket.state !== 'reading') return;
    const ageMs = atMs - socket.idleSinceMs;
    this.reads += 1;
    // A probe that got in refreshed the mapping, and may have changed how the NAT treats it (Linux turns a
    // replied flow older than 2 s into a "stream" with a longer timeout): the socket is read once, then retired.
    this.sockets.delete(socketId);
    if (open) {
      this.retired.push(socketId);
      this.retiredAtMs.push(atMs);
      this.lowerMs = Math.max(this.lowerMs, ageMs);
      if (this.upperMs === Infinity) this.nextLadderAgeMs = this.nextLadderAge(ageMs);
    } else {
      this.upperMs = Math.min(this.upperMs, ageMs);
    }
    // Contradictory reads (loss, jitter): trust the closed one, which cannot be caused by loss of a refresh.
    if (this.lowerMs >= this.upperMs) this.lowerMs = Math.max(0, this.upperMs - this.config.absoluteToleranceMs);
  }

  /** Ends the search at `nowMs` with the bracket so far (the server stopped answering, or the run's deadline came). */
  stop(nowMs: number): LifetimeResult {
    if (this.finished === undefined) this.finish(nowMs);
    return this.finished!;
  }

  /** What to do at `nowMs`: some opens, closes and reads, then a wait, or done. */
  poll(nowMs: number): LifetimeAction[] {
    if (this.finished !== undefined) return [{ type: 'done', result: this.finished }];
    const actions: LifetimeAction[] = this.retired.map((socketId) => ({ type: 'close', socketId }));
    this.retired = [];
    const { maxSockets, maxLifetimeMs, minOpenSpacingMs, absoluteToleranceMs, relativeTolerance } = this.config;
    const elapsed = nowMs - this.startMs;
    const reading = [...this.sockets.values()].some((s) => s.state === 'reading' || s.state === 'opening');
    const tolerance = Math.max(absoluteToleranceMs, relativeTolerance * this.lowerMs);

    if (this.upperMs - this.lowerMs <= tolerance && !reading) return this.finish(nowMs);
    if (this.upperMs === Infinity && this.lowerMs >= maxLifetimeMs && !reading) return this.finish(nowMs);

    const idle = [...this.sockets.values()].filter((s) => s.state === 'idle').sort((a, b) => a.idleSinceMs - b.idleSinceMs);
    const age = (s: SocketState): number => nowMs - s.idleSinceMs;

    // Sockets older than anything still worth asking about only hold quota.
    for (const s of idle) {
      if (age(s) > Math.min(this.upperMs, maxLifetimeMs + absoluteToleranceMs) + absoluteToleranceMs && s !== idle[0]) {
        this.sockets.delete(s.id);
        actions.push({ type: 'close', socketId: s.id });
      }
    }
    const live = (): SocketState[] => [...this.sockets.values()];
    // A retired mapping is known gone only once the bracket's upper end has passed since it was refreshed.
    this.retiredAtMs = this.retiredAtMs.filter((t) => this.upperMs === Infinity || nowMs - t < this.upperMs + absoluteToleranceMs);
    const mappings = (): number => live().length + this.retiredAtMs.length;
    const idleNow = live().filter((s) => s.state === 'idle').sort((a, b) => a.idleSinceMs - b.idleSinceMs);

    let nextWake: number | undefined;
    const wakeAt = (t: number): void => {
      nextWake = nextWake === undefined ? t : Math.min(nextWake, t);
    };

    if (this.opened === 0) {
      for (let i = 0; i < this.ladderPoolSize(); i += 1) actions.push(this.open(nowMs, 'ladder'));
    }

    if (this.upperMs === Infinity) {
      // Ladder: read a ladder socket (else the oldest) once it reaches the next age on the ladder.
      const oldest = idleNow.find((s) => s.pool === 'ladder') ?? idleNow[0];
      const ladderBusy = [...this.sockets.values()].some((s) => s.state === 'reading');
      if (oldest !== undefined && !ladderBusy) {
        if (age(oldest) >= this.nextLadderAgeMs - 1e-6) {
          actions.push(this.read(oldest));
        } else {
          wakeAt(oldest.idleSinceMs + this.nextLadderAgeMs);
        }
      }
    } else {
      // Refinement: read at once every socket whose age lies inside the bracket.
      const inside = idleNow.filter((s) => age(s) > this.lowerMs && age(s) < this.upperMs);
      if (inside.length > 0) {
        for (const s of inside) actions.push(this.read(s));
      } else if (!reading) {
        // None inside: the youngest-but-oldest socket below the bracket will enter it; read it at the middle.
        const below = idleNow.filter((s) => age(s) <= this.lowerMs);
        const candidate = below[0];
        const middle = (this.lowerMs + this.upperMs) / 2;
        if (candidate !== undefined) wakeAt(candidate.idleSinceMs + middle);
      }
    }

    // Keep a stream of staggered openings: spacing grows with the elapsed time so the count stays bounded.
    const wantsMore = this.upperMs === Infinity ? elapsed < maxLifetimeMs : idleNow.every((s) => age(s) > this.lowerMs) && !reading;
    const spacing = Math.max(minOpenSpacingMs, elapsed * this.config.openSpacingRatio, this.upperMs === Infinity ? 0 : (this.upperMs - this.lowerMs) / 4);
    if (wantsMore && mappings() < maxSockets) {
      if (nowMs - this.lastOpenMs >= spacing - 1e-6) {
        actions.push(this.open(nowMs, 'staggered'));
        wakeAt(nowMs + spacing);
      } else {
        wakeAt(this.lastOpenMs + spacing);
      }
    }
    this.peak = Math.max(this.peak, mappings());
    actions.push({ type: 'wait', untilMs: nextWake });
    return actions;
  }

  private open(nowMs: number, pool: SocketState['pool']): LifetimeAction {
    const id = this.nextId++;
    this.sockets.set(id, { id, pool, state: 'opening', idleSinceMs: nowMs });
    if (pool === 'staggered') this.lastOpenMs = nowMs;
    this.opened += 1;
    return { type: 'open', socketId: id };
  }

  private read(socket: SocketState): LifetimeAction {
    socket.state = 'reading';
    return { type: 'read', socketId: socket.id };
  }

  private finish(nowMs: number): LifetimeAction[] {
    const result: LifetimeResult = {
      lowerMs: this.lowerMs,
      upperMs: this.upperMs === Infinity ? null : this.upperMs,
      reads: this.reads,
      socketsOpened: this.opened,
      peakSockets: this.peak,
      elapsedMs: nowMs - this.startMs,
    };
    this.finished = result;
    const closes: LifetimeAction[] = [...this.sockets.keys()].map((socketId) => ({ type: 'close', socketId }));
    this.sockets.clear();
    return [...closes, { type: 'done', result }];
  }
}
