import { describe, expect, it } from '@jest/globals';
import { ClientTransaction, RFC8489_DEFAULT_POLICY, type TransactionAction } from '../../src/protocol/transaction.js';
import { RtoEstimator } from '../../src/protocol/rto-estimator.js';

/** Drives a transaction with a fake clock that jumps to each wake-up time; returns the send times and the end. */
function runToEnd(transaction: ClientTransaction): { sendsMs: number[]; end: TransactionAction; endMs: number } {
  const sendsMs: number[] = [];
  let nowMs = transaction.startMs;
  for (;;) {
    const action = transaction.poll(nowMs);
    if (action.type === 'send') sendsMs.push(nowMs);
    else if (action.type === 'wait') nowMs = action.untilMs;
    else return { sendsMs, end: action, endMs: nowMs };
  }
}

describe('ClientTransaction (RFC 8489 §6.2.1)', () => {
  it('sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s and times out at 39.5 s with the default policy', () => {
    const { sendsMs, end, endMs } = runToEnd(new ClientTransaction(RFC8489_DEFAULT_POLICY, 0));
    expect(sendsMs).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(end).toEqual({ type: 'timeout', attempts: 7, elapsedMs: 39500 });
    expect(endMs).toBe(39500);
  });

  it('times out after seven sends relative to its start time', () => {
    const { sendsMs, endMs } = runToEnd(new ClientTransaction(RFC8489_DEFAULT_POLICY, 1_000_000));
    expect(sendsMs).toHaveLength(7);
    expect(endMs - 1_000_000).toBe(39500);
  });

  it('follows a configured RTO, Rc and Rm', () => {
    const { sendsMs, endMs } = runToEnd(new ClientTransaction({ rtoMs: 10, rc: 3, rm: 4 }, 0));
    expect(sendsMs).toEqual([0, 10, 30]);
    expect(endMs).toBe(70);
  });

  it('does not send early when polled before the next send is due', () => {
    const transaction = new ClientTransaction(RFC8489_DEFAULT_POLICY, 0);
    expect(transaction.poll(0)).toEqual({ type: 'send', attempt: 1 });
    expect(transaction.poll(0)).toEqual({ type: 'wait', untilMs: 500 });
    expect(transaction.poll(499)).toEqual({ type: 'wait', untilMs: 500 });
    expect(transaction.poll(500)).toEqual({ type: 'send', attempt: 2 });
  });

  it('reports the RTT only when one request was sent (Karn)', () => {
    const once = new ClientTransaction(RFC8489_DEFAULT_POLICY, 100);
    once.poll(100);
    expect(once.complete(142)).toEqual({ attempts: 1, elapsedMs: 42, rttMs: 42 });
    expect(once.poll(10_000)).toEqual({ type: 'complete' });

    const twice = new ClientTransaction(RFC8489_DEFAULT_POLICY, 0);
    twice.poll(0);
    twice.poll(500);
    expect(twice.complete(520)).toEqual({ attempts: 2, elapsedMs: 520, rttMs: undefined });
  });

  it('rejects a policy that would never send', () => {
    expect(() => new ClientTransaction({ rtoMs: 0, rc: 7, rm: 16 }, 0)).toThrow(/invalid retransmission policy/);
  });
});

describe('RtoEstimator (RFC 6298)', () => {
  it('has no RTO before a sample and keeps the configured policy', () => {
    const estimator = new RtoEstimator();
    expect(estimator.rtoMs()).toBeUndefined();
    expect(estimator.adapt(RFC8489_DEFAULT_POLICY)).toBe(RFC8489_DEFAULT_POLICY);
  });

  it('sets RTO = R + 4 × R/2 after the first sample', () => {
    const estimator = new RtoEstimator({ minRtoMs: 1, maxRtoMs: 10_000 });
    estimator.observe(30);
    expect(estimator.rtoMs()).toBe(90);
    expect(estimator.adapt(RFC8489_DEFAULT_POLICY)).toEqual({ rtoMs: 90, rc: 7, rm: 16 });
  });

  it('clamps a loopback RTT to the floor and a satellite RTT to the ceiling', () => {
    const fast = new RtoEstimator({ minRtoMs: 10, maxRtoMs: 3000 });
    fast.observe(0.05);
    expect(fast.rtoMs()).toBe(10);
    const slow = new RtoEstimator({ minRtoMs: 10, maxRtoMs: 3000 });
    slow.observe(2000);
    expect(slow.rtoMs()).toBe(3000);
  });

  it('smooths later samples with alpha 1/8 and beta 1/4', () => {
    const estimator = new RtoEstimator({ minRtoMs: 0, maxRtoMs: 10_000 });
    estimator.observe(100);
    estimator.observe(200);
    // RTTVAR = 0.75 × 50 + 0.25 × 100 = 62.5; SRTT = 0.875 × 100 + 0.125 × 200 = 112.5
    expect(estimator.rtoMs()).toBeCloseTo(112.5 + 250, 6);
    expect(estimator.sampleCount).toBe(2);
  });
});
