/** RFC 8489 §6.2.1 retransmission parameters. */
export interface RetransmissionPolicy {
  /** Initial retransmission timeout, RTO. */
  readonly rtoMs: number;
  /** Rc: how many requests are sent in all. */
  readonly rc: number;
  /** Rm: after the last request, wait Rm × RTO for a response. */
  readonly rm: number;
}

/** RFC 8489 §6.2.1 defaults: RTO 500 ms, Rc 7, Rm 16 (timeout 39.5 s after the first send). */
export const RFC8489_DEFAULT_POLICY: RetransmissionPolicy = { rtoMs: 500, rc: 7, rm: 16 };

/** What the driver of a transaction must do next. */
export type TransactionAction =
  | { readonly type: 'send'; readonly attempt: number }
  | { readonly type: 'wait'; readonly untilMs: number }
  | { readonly type: 'timeout'; readonly attempts: number; readonly elapsedMs: number }
  | { readonly type: 'complete' };

/** How a completed transaction went. */
export interface TransactionOutcome {
  readonly attempts: number;
  readonly elapsedMs: number;
  /** Round-trip time, only when a single request was sent (Karn's rule, RFC 6298 §3). */
  readonly rttMs: number | undefined;
}

/**
 * The retransmission state of one client transaction over UDP (RFC 8489 §6.2.1), Sans-IO:
 * the driver calls `poll(now)` and sends, waits or gives up as told; `complete(now)` ends it.
 */
export class ClientTransaction {
  private attemptsSent = 0;
  private nextSendMs: number;
  private currentRtoMs: number;
  private lastSendMs: number;
  private finished: 'complete' | 'timeout' | undefined;

  constructor(
    readonly policy: RetransmissionPolicy,
    readonly startMs: number,
  ) {
    if (!(policy.rtoMs > 0) || !(policy.rc >= 1) || !(policy.rm > 0)) {
      throw new RangeError(`invalid retransmission policy: RTO ${policy.rtoMs} ms, Rc ${policy.rc}, Rm ${policy.rm}`);
    }
    this.nextSendMs = startMs;
    this.currentRtoMs = policy.rtoMs;
    this.lastSendMs = startMs;
  }

  /** Number of requests sent so far. */
  get attempts(): number {
    return this.attemptsSent;
  }

  /** The next action at time `nowMs`; a 'send' is returned once per scheduled request. */
  poll(nowMs: number): TransactionAction {
    if (this.finished === 'complete') return { type: 'complete' };
    if (this.finished === 'timeout') return this.timeoutAction();
    if (this.attemptsSent < this.policy.rc) {
      if (nowMs < this.nextSendMs) return { type: 'wait', untilMs: this.nextSendMs };
      this.attemptsSent += 1;
      this.lastSendMs = this.nextSendMs;
      // RFC 8489 §6.2.1: the RTO doubles after each retransmission.
      this.nextSendMs = this.lastSendMs + this.currentRtoMs;
      this.currentRtoMs *= 2;
      return { type: 'send', attempt: this.attemptsSent };
    }
    // After the Rc-th request, wait Rm times the *initial* RTO (RFC 8489 §6.2.1).
    const giveUpMs = this.lastSendMs + this.policy.rm * this.policy.rtoMs;
    if (nowMs < giveUpMs) return { type: 'wait', untilMs: giveUpMs };
    this.finished = 'timeout';
    return this.timeoutAction();
  }

  /** Ends the transaction with a response received at `nowMs`. */
  complete(nowMs: number): TransactionOutcome {
    this.finished = 'complete';
    return {
      attempts: this.attemptsSent,
      elapsedMs: nowMs - this.startMs,
      rttMs: this.attemptsSent === 1 ? nowMs - this.startMs : undefined,
    };
  }

  private timeoutAction(): TransactionAction {
    const giveUpMs = this.lastSendMs + this.policy.rm * this.policy.rtoMs;
    return { type: 'timeout', attempts: this.attemptsSent, elapsedMs: giveUpMs - this.startMs };
  }
}
