import { sameIp, type TransportAddress } from '../codec/transport-address.js';
import { PortMappingTransaction, type RetransmissionSchedule } from '../protocol/port-mapping-transaction.js';
import type { Clock, UdpSocket } from './ports.js';

/** How one NAT-PMP/PCP exchange ended. */
export type ExchangeOutcome<T> =
  | { readonly type: 'answered'; readonly value: T; readonly rttMs: number; readonly sends: number }
  | { readonly type: 'no-answer'; readonly sends: number; readonly waitedMs: number };

/**
 * Sends `request` to `server` on the schedule until `accept` takes a datagram from the server's own address
 * and port (RFC 6886 §3.1, RFC 6887 §8.3: anything else is ignored) or `deadlineMs` passes.
 */
export function exchangeWithRouter<T>(
  socket: UdpSocket,
  clock: Clock,
  server: TransportAddress,
  request: Uint8Array,
  schedule: RetransmissionSchedule,
  deadlineMs: number,
  accept: (bytes: Uint8Array) => T | undefined,
): Promise<ExchangeOutcome<T>> {
  const startMs = clock.nowMs();
  const transaction = new PortMappingTransaction(schedule, startMs, deadlineMs);
  return new Promise((resolve) => {
    let cancel: () => void = () => {};
    let lastSendMs = startMs;
    socket.onDatagram((bytes, from) => {
      if (from.port !== server.port || !sameIp(from.address, server.address)) return;
      const value = accept(bytes);
      if (value === undefined) return;
      transaction.complete();
      cancel();
      resolve({ type: 'answered', value, rttMs: clock.nowMs() - lastSendMs, sends: transaction.sendCount });
    });
    const step = (): void => {
      const now = clock.nowMs();
      const next = transaction.poll(now);
      if (next.type === 'done') return;
      if (next.type === 'timed-out') {
        resolve({ type: 'no-answer', sends: next.sends, waitedMs: now - startMs });
        return;
      }
      if (next.type === 'send') {
        lastSendMs = now;
        socket.send(request, server);
      }
      cancel = clock.setTimer(next.wakeAtMs - now, step);
    };
    step();
  });
}
