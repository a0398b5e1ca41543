import { describe, expect, it } from '@jest/globals';
import { natPmpSchedule, pcpSchedule, PortMappingTransaction, type TransactionStep } from '../../src/protocol/port-mapping-transaction.js';

/** Drives a transaction with no answer, jumping from wake time to wake time; returns the send times and the end. */
function runSilent(transaction: PortMappingTransaction, startMs = 0): { sendsAtMs: number[]; end: TransactionStep; endAtMs: number } {
  const sendsAtMs: number[] = [];
  let now = startMs;
  for (let i = 0; i < 1000; i += 1) {
    const step = transaction.poll(now);
    if (step.type === 'timed-out' || step.type === 'done') return { sendsAtMs, end: step, endAtMs: now };
    if (step.type === 'send') sendsAtMs.push(now);
    now = step.wakeAtMs;
  }
  throw new Error('no end after 1000 steps');
}

describe('NAT-PMP retransmission (RFC 6886 §3.1)', () => {
  it('sends nine times, 250 ms apart doubling, and gives up 64 s after the ninth send', () => {
    const { sendsAtMs, end, endAtMs } = runSilent(new PortMappingTransaction(natPmpSchedule, 0));
    expect(sendsAtMs).toEqual([0, 250, 750, 1750, 3750, 7750, 15750, 31750, 63750]);
    expect(end).toEqual({ type: 'timed-out', sends: 9, reason: 'schedule-exhausted' });
    expect(endAtMs).toBe(127_750);
  });

  it('stops at the caller deadline: three sends within an 800 ms probe', () => {
    const { sendsAtMs, end, endAtMs } = runSilent(new PortMappingTransaction(natPmpSchedule, 1000, 1800), 1000);
    expect(sendsAtMs).toEqual([1000, 1250, 1750]);
    expect(end).toEqual({ type: 'timed-out', sends: 3, reason: 'deadline' });
    expect(endAtMs).toBe(1800);
  });

  it('ends quietly once answered', () => {
    const transaction = new PortMappingTransaction(natPmpSchedule, 0);
    expect(transaction.poll(0)).toMatchObject({ type: 'send', attempt: 1, wakeAtMs: 250 });
    transaction.complete();
    expect(transaction.poll(250)).toEqual({ type: 'done' });
    expect(transaction.sendCount).toBe(1);
  });

  it('waits without sending when polled early', () => {
    const transaction = new PortMappingTransaction(natPmpSchedule, 0);
    transaction.poll(0);
    expect(transaction.poll(100)).toEqual({ type: 'wait', wakeAtMs: 250 });
  });
});

describe('PCP retransmission (RFC 6887 §8.1.1)', () => {
  it('waits IRT = 3 s, then doubles, with RAND 0 at the middle of [-0.1, +0.1]', () => {
    const { sendsAtMs } = runSilent(new PortMappingTransaction(pcpSchedule(() => 0.5), 0, 50_000));
    expect(sendsAtMs).toEqual([0, 3000, 9000, 21000, 45000]);
  });

  it('applies the ±10 % jitter: RAND -0.1 gives 2.7 s, +0.1 gives 3.3 s', () => {
    expect(runSilent(new PortMappingTransaction(pcpSchedule(() => 0), 0, 4000)).sendsAtMs[1]).toBeCloseTo(2700, 6);
    expect(runSilent(new PortMappingTransaction(pcpSchedule(() => 0.999999), 0, 4000)).sendsAtMs[1]).toBeCloseTo(3300, 0);
  });

  it('caps the interval at MRT = 1024 s and, with MRC = MRD = 0, never gives up on its own', () => {
    const schedule = pcpSchedule(() => 0.5);
    expect(schedule.waitAfterMs(20, 900_000)).toBe(1_024_000);
    const { end } = runSilent(new PortMappingTransaction(schedule, 0, 10_000_000));
    expect(end).toMatchObject({ type: 'timed-out', reason: 'deadline' });
  });

  it('sends once within an 800 ms probe budget', () => {
    const { sendsAtMs, end } = runSilent(new PortMappingTransaction(pcpSchedule(() => 0.5), 0, 800));
    expect(sendsAtMs).toEqual([0]);
    expect(end).toEqual({ type: 'timed-out', sends: 1, reason: 'deadline' });
  });
});
