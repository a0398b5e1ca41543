import cluster, { type Worker } from 'node:cluster';

/** Messages a worker sends its primary. */
export type WorkerMessage =
  | { readonly natscope: 'ready'; readonly addresses: readonly string[] }
  | { readonly natscope: 'drops'; readonly drops: Readonly<Record<string, number>> }
  | { readonly natscope: 'failed'; readonly message: string };

/** The cluster seen from the primary. */
export interface WorkerPool {
  /** Resolves when every first worker said it is ready (rejects when one dies before). */
  readonly ready: Promise<void>;
  /** PIDs of the live workers, by worker number (1..N). */
  pids(): ReadonlyMap<number, number>;
  stop(): Promise<void>;
}

/** The env var that tells a forked process it is worker number N. */
export const WORKER_NUMBER_ENV = 'NATSCOPE_WORKER_NUMBER';

/** True in a process forked by `startWorkerPool`. */
export function isPoolWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_NUMBER_ENV] !== undefined;
}

/** This worker's number (1..N), or 1 outside a pool. */
export function workerNumber(): number {
  return Number(process.env[WORKER_NUMBER_ENV] ?? '1');
}

/** Sends a message to the primary (no-op outside a pool). */
export function tellPrimary(message: WorkerMessage): void {
  if (isPoolWorker()) process.send?.(message);
}

/**
 * Forks `count` workers running the same command line, and replaces a worker that dies (a crash, a kill) unless the
 * pool is stopping. A worker that keeps dying within a second of its start is replaced after a growing delay (max 30 s).
 */
export function startWorkerPool(
  count: number,
  worker: { readonly exec: string; readonly env: Readonly<Record<string, string>> },
  log: (line: string) => void,
  onMessage: (worker: number, message: WorkerMessage) => void,
): WorkerPool {
  // The workers run a slim entry (no CLI parser, no terminal UI): less memory and a faster start per worker.
  cluster.setupPrimary({ exec: worker.exec, args: [] });
  const live = new Map<number, Worker>();
  const startedAt = new Map<number, number>();
  const quickDeaths = new Map<number, number>();
  let stopping = false;
  let firstReady = 0;
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));

  const fork = (n: number): void => {
    const child = cluster.fork({ ...worker.env, [WORKER_NUMBER_ENV]: String(n) });
    live.set(n, child);
    startedAt.set(n, Date.now());
    let wasReady = false;
    let failure: string | undefined;
    child.on('message', (message: WorkerMessage) => {
      if (message?.natscope === 'failed') failure = message.message;
      if (message?.natscope === 'ready' && !wasReady) {
        wasReady = true;
        log(`natscope stun: worker ${n} (pid ${child.process.pid}) ready`);
        firstReady += 1;
        if (firstReady === count) settle?.resolve();
      }
      if (message?.natscope !== undefined) onMessage(n, message);
    });
    child.on('exit', (code, signal) => {
      if (live.get(n) === child) live.delete(n);
      if (stopping) return;
      const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
      if (!wasReady && firstReady < count) {
        settle?.reject(new Error(failure ?? `worker ${n} (pid ${child.process.pid}) ended before it was ready (${how})`));
        settle = undefined;
        return;
      }
      const quick = Date.now() - (startedAt.get(n) ?? 0) < 1000 ? (quickDeaths.get(n) ?? 0) + 1 : 0;
      quickDeaths.set(n, quick);
      const delayMs = quick === 0 ? 0 : Math.min(30_000, 250 * 2 ** quick);
      log(`natscope stun: worker ${n} (pid ${child.process.pid}) ended (${how}); starting a new one${delayMs > 0 ? ` in ${delayMs} ms` : ''}`);
      setTimeout(() => {
        if (!stopping) fork(n);
      }, delayMs).unref();
    });
  };
  for (let n = 1; n <= count; n += 1) fork(n);

  return {
    ready,
    pids: () => new Map([...live].map(([n, w]) => [n, w.process.pid ?? 0])),
    stop: async () => {
      stopping = true;
      await Promise.all(
        [...live.values()].map(
          (worker) =>
            new Promise<void>((resolve) => {
              if (worker.isDead()) return resolve();
              worker.once('exit', () => resolve());
              worker.process.kill('SIGTERM');
              setTimeout(() => worker.process.kill('SIGKILL'), 3000).unref();
            }),
        ),
      );
    },
  };
}
