import type { TransportAddress } from '../codec/transport-address.js';
import type { Clock, UdpNetwork, UdpSocket } from '../probe/ports.js';
import type { DatagramAction } from '../protocol/datagram-action.js';
import { nodeUdpNetwork } from './node-udp.js';


/** A Sans-IO server protocol: it names its sockets and maps datagrams (and, if it has timers, time) to actions. */
export interface DatagramServerProtocol<K> {
  sockets(): ReadonlyArray<{ readonly key: K; readonly local: TransportAddress }>;
  handleDatagram(nowMs: number, bytes: Uint8Array, from: TransportAddress, arrivedOn: K): DatagramAction<K> | readonly DatagramAction<K>[];
  /** When the protocol next wants `handleTimeout`, if ever. */
  nextTimeoutMs?(): number | undefined;
  handleTimeout?(nowMs: number): readonly DatagramAction<K>[];
}

/**
 * Finds which of a protocol's sockets an action names: by identity first (protocols hand back their own key
 * objects, so this is the hot path), by value only as a fallback. Returns the socket's index in `keys`.
 */
export function socketKeyIndex<K>(keys: readonly K[]): (key: K) => number | undefined {
  const byIdentity = new Map<K, number>(keys.map((key, i) => [key, i]));
  const texts = keys.map((key) => JSON.stringify(key));
  return (key) => {
    const found = byIdentity.get(key) ?? texts.indexOf(JSON.stringify(key));
    return found < 0 ? undefined : found;
  };
}

/** A running server. */
export interface RunningServer {
  readonly addresses: readonly TransportAddress[];
  /** Counts of datagrams by outcome ("send", or the ignore reason). */
  readonly counters: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/**
 * Binds the protocol's sockets and carries out its actions. Nothing a datagram contains can throw out of
 * here: a protocol error is counted and reported through `onError`, and the server goes on.
 */
export async function runDatagramServer<K>(
  protocol: DatagramServerProtocol<K>,
  clock: Clock,
  onError: (error: Error) => void = () => {},
  network: UdpNetwork = nodeUdpNetwork,
): Promise<RunningServer> {
  const entries = protocol.sockets();
  const indexOf = socketKeyIndex(entries.map((entry) => entry.key));
  // In the order of `entries`, so an index from `indexOf` names the bound socket.
  const bound: UdpSocket[] = [];
  const counters = new Map<string, number>();
  const count = (what: string): void => {
    counters.set(what, (counters.get(what) ?? 0) + 1);
  };
  let cancelTimer: () => void = () => {};
  let closed = false;

  const carryOut = (actions: DatagramAction<K> | readonly DatagramAction<K>[]): void => {
    for (const action of Array.isArray(actions) ? actions : [actions as DatagramAction<K>]) {
      if (action.type === 'ignore') {
        count(action.reason);
        continue;
      }
      const index = indexOf(action.via);
      const via = index === undefined ? undefined : bound[index];
      if (via === undefined) continue;
      count('send');
      via.send(action.bytes, action.to);
    }
  };
  const schedule = (): void => {
    cancelTimer();
    const at = protocol.nextTimeoutMs?.();
    if (at === undefined || closed) return;
    cancelTimer = clock.setTimer(Math.max(0, at - clock.nowMs()), () => {
      try {
        carryOut(protocol.handleTimeout?.(clock.nowMs()) ?? []);
      } catch (error) {
        count('internal-error');
        onError(error as Error);
      }
      schedule();
    });
  };

  try {
    for (const { key, local } of entries) {
      const socket = await network.bind(local.family, local.address, local.port);
      bound.push(socket);
      socket.onDatagram((bytes, from) => {
        try {
          carryOut(protocol.handleDatagram(clock.nowMs(), bytes, from, key));
        } catch (error) {
          count('internal-error');
          onError(error as Error);
        }
        schedule();
      });
    }
  } catch (error) {
    for (const socket of bound) socket.close();
    throw error;
  }
  return {
    addresses: bound.map((socket) => socket.local),
    counters,
    close: async () => {
      closed = true;
      cancelTimer();
      for (const socket of bound) socket.close();
    },
  };
}
