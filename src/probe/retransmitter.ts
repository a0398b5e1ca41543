import { ClientTransaction, type RetransmissionPolicy, type TransactionOutcome } from '../protocol/transaction.js';
import type { Clock } from './ports.js';

/**
 * Carries out a ClientTransaction's schedule with a real (or fake) clock: calls `send` at each scheduled
 * attempt and `onTimeout` when it gives up. The one place request retransmission meets timers.
 */
export class Retransmitter {
  private readonly transaction: ClientTransaction;
  private cancelTimer: () => void = () => {};
  private done = false;

  constructor(
    private readonly clock: Clock,
    policy: RetransmissionPolicy,
    private readonly send: () => void,
    private readonly onTimeout: (attempts: number, elapsedMs: number) => void,
  ) {
    this.transaction = new ClientTransaction(policy, clock.nowMs());
    this.drive();
  }

  /** Requests sent so far. */
  get attempts(): number {
    return this.transaction.attempts;
  }

  /** When the first request was sent. */
  get startMs(): number {
    return this.transaction.startMs;
  }

  /** Stops retransmitting: the answer came (or is no longer wanted) at `nowMs` (default: now). */
  stop(nowMs: number = this.clock.nowMs()): TransactionOutcome {
    this.done = true;
    this.cancelTimer();
    return this.transaction.complete(nowMs);
  }

  private drive(): void {
    if (this.done) return;
    for (;;) {
      const action = this.transaction.poll(this.clock.nowMs());
      if (action.type === 'send') {
        try {
          this.send();
        } catch {
          // A send that fails (no route, closed socket) is a lost packet: the schedule goes on.
        }
        continue;
      }
      if (action.type === 'wait') {
        this.cancelTimer = this.clock.setTimer(Math.max(0, action.untilMs - this.clock.nowMs()), () => this.drive());
      } else if (action.type === 'timeout') {
        this.done = true;
        this.onTimeout(action.attempts, action.elapsedMs);
      }
      return;
    }
  }
}
