/**
 * Sans-IO retransmission of one NAT-PMP or PCP request: time and randomness are inputs, the caller sends and
 * listens. A response ends the transaction (`complete`); the caller's deadline may end it before the RFC does.
 */

/** When to send again, after the attempt numbered `attempt` (1-based) was sent `previousWaitMs` after the one before. */
export interface RetransmissionSchedule {
  /** How long to wait after send number `attempt` (1-based); undefined when the RFC says to give up after it. */
  waitAfterMs(attempt: number, previousWaitMs: number | undefined): number | undefined;
}

/** RFC 6886 §3.1: wait 250 ms, doubling each time; give up 64 s after the ninth send (127.75 s in all). */
export const natPmpSchedule: RetransmissionSchedule = {
  waitAfterMs: (attempt) => (attempt > 9 ? undefined : 250 * 2 ** (attempt - 1)),
};

/**
 * RFC 6887 §8.1.1: IRT 3 s, MRT 1024 s, MRC 0 and MRD 0 (no limit: the caller's deadline decides);
 * RT = (1 + RAND) × IRT, then (1 + RAND) × min(2 × RTprev, MRT), RAND uniform in [-0.1, +0.1].
 * `random` returns a number in [0, 1) (Math.random at the edge, a constant in tests).
 */
export function pcpSchedule(random: () => number): RetransmissionSchedule {
  const IRT_MS = 3_000;
  const MRT_MS = 1_024_000;
  const jitter = (): number => 1 + (random() * 0.2 - 0.1);
  return {
    waitAfterMs: (attempt, previousWaitMs) =>
      attempt === 1 || previousWaitMs === undefined ? jitter() * IRT_MS : jitter() * Math.min(2 * previousWaitMs, MRT_MS),
  };
}

/** What the caller does next. */
export type TransactionStep =
  | { readonly type: 'send'; readonly attempt: number; readonly wakeAtMs: number }
  | { readonly type: 'wait'; readonly wakeAtMs: number }
  | { readonly type: 'done' }
  | { readonly type: 'timed-out'; readonly sends: number; readonly reason: 'schedule-exhausted' | 'deadline' };

/** One request's retransmission state. */
export class PortMappingTransaction {
  private sends = 0;
  private nextSendAtMs: number;
  private lastWaitMs: number | undefined;
  private finished = false;

  constructor(
    private readonly schedule: RetransmissionSchedule,
    startMs: number,
    /** The caller's budget: no send at or after it, and the transaction times out there. */
    private readonly deadlineMs: number = Infinity,
  ) {
    this.nextSendAtMs = startMs;
  }

  /** How many times the request was sent. */
  get sendCount(): number {
    return this.sends;
  }

  /** A matching response arrived. */
  complete(): void {
    this.finished = true;
  }

  /** Call at start and whenever the wake time comes. */
  poll(nowMs: number): TransactionStep {
    if (this.finished) return { type: 'done' };
    if (nowMs >= this.deadlineMs) {
      this.finished = true;
      return { type: 'timed-out', sends: this.sends, reason: 'deadline' };
    }
    if (nowMs < this.nextSendAtMs) return { type: 'wait', wakeAtMs: Math.min(this.nextSendAtMs, this.deadlineMs) };
    if (this.lastWaitMs === undefined && this.sends > 0) {
      // The schedule ran out after the last send, and its final wait has passed.
      this.finished = true;
      return { type: 'timed-out', sends: this.sends, reason: 'schedule-exhausted' };
    }
    this.sends += 1;
    const waitMs = this.schedule.waitAfterMs(this.sends, this.lastWaitMs);
    if (waitMs === undefined) {
      this.finished = true;
      return { type: 'timed-out', sends: this.sends - 1, reason: 'schedule-exhausted' };
    }
    this.lastWaitMs = waitMs;
    this.nextSendAtMs = nowMs + waitMs;
    // After the last scheduled send, the wait that follows is the give-up time.
    if (this.schedule.waitAfterMs(this.sends + 1, waitMs) === undefined) this.lastWaitMs = undefined;
    return { type: 'send', attempt: this.sends, wakeAtMs: Math.min(this.nextSendAtMs, this.deadlineMs) };
  }
}
