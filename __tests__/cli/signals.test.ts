import { describe, expect, it } from '@jest/globals';
import { SERVER_STOP_GRACE_MS, SignalHandling, type SignalTarget, type StopSignal } from '../../src/cli/signals.js';

/** A process stand-in: records exits and scheduled callbacks, lets the test send signals. */
function fakeProcess() {
  const listeners = new Map<StopSignal, () => void>();
  const exits: number[] = [];
  const scheduled: Array<{ ms: number; callback: () => void }> = [];
  const target: SignalTarget = {
    on: (signal, listener) => listeners.set(signal, listener),
    exit: (code) => {
      exits.push(code);
    },
  };
  const handling = new SignalHandling(target, (callback, ms) => scheduled.push({ callback, ms }));
  return { handling, exits, scheduled, send: (signal: StopSignal) => listeners.get(signal)?.() };
}

describe('SIGINT and SIGTERM', () => {
  it('end a run at once with 130 (SIGINT) or 143 (SIGTERM), after its cleanups, last registered first', () => {
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const { handling, exits, send } = fakeProcess();
      const order: string[] = [];
      handling.onInterrupt(() => order.push('print the JSON error'));
      handling.onInterrupt(() => order.push('stop the spinner'));
      send(signal);
      expect(order).toEqual(['stop the spinner', 'print the JSON error']);
      expect(exits).toEqual([code]);
    }
  });

  it('still exit when a cleanup throws', () => {
    const { handling, exits, send } = fakeProcess();
    handling.onInterrupt(() => {
      throw new Error('terminal gone');
    });
    send('SIGINT');
    expect(exits).toEqual([130]);
  });

  it('skip cleanups that were unregistered (a spinner already stopped)', () => {
    const { handling, send } = fakeProcess();
    const calls: string[] = [];
    const unregister = handling.onInterrupt(() => calls.push('spinner'));
    unregister();
    send('SIGINT');
    expect(calls).toEqual([]);
  });

  it('ask a waiting server to stop, and exit anyway if it has not closed within the grace time', async () => {
    const { handling, exits, scheduled, send } = fakeProcess();
    const stopped = handling.untilStopped();
    send('SIGTERM');
    await stopped;
    expect(exits).toEqual([]);
    expect(scheduled.map((s) => s.ms)).toEqual([SERVER_STOP_GRACE_MS]);
    scheduled[0]!.callback();
    expect(exits).toEqual([143]);
  });

  it('end a stopping server at once on a second signal', () => {
    const { handling, exits, send } = fakeProcess();
    void handling.untilStopped();
    send('SIGINT');
    send('SIGINT');
    expect(exits).toEqual([130]);
  });
});
