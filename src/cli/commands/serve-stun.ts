import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import { formatTransportAddress } from '../../codec/transport-address.js';
import { closeFds, openBatchedSockets, runBatchedUdpServer } from '../../platform/batched-udp-server.js';
import { startWorkerPool, tellPrimary, workerNumber, type WorkerMessage } from '../../platform/cluster-workers.js';
import { loadUdpBatch, type UdpBatchAddon } from '../../platform/udp-batch.js';
import { runSharedUdpServer, type SharedUdpServer } from '../../platform/shared-udp-server.js';
import { describeDrops, loadPromClient, registerStunMetrics, serveMetrics } from '../../platform/stun-metrics.js';
import { systemClock } from '../../platform/system-clock.js';
import { DEFAULT_STUN_SERVER_LIMITS, StunServerProtocol } from '../../protocol/stun-server.js';
import type { RateLimit } from '../../protocol/rate-limiter.js';
import { ExitCode, ExitError } from '../exit-codes.js';
import type { Io } from '../run-cli.js';

/** Normalised options of `natscope serve stun`. */
export interface ServeStunOptions {
  readonly address: string;
  readonly port: number;
  readonly alternateAddress?: string;
  readonly alternatePort: number;
  readonly software: string;
  /** Per source IP for the whole server (each of N workers enforces 1/N of it). */
  readonly rateLimit?: RateLimit | 'off';
  readonly maxSources?: number;
  /** Worker processes (node:cluster); 1 runs in this process. */
  readonly workers?: number;
  /** Serve Prometheus metrics here. */
  readonly metrics?: { readonly address: string; readonly port: number };
  /** How often, at most, the drop counts are logged (default one minute). */
  readonly dropLogIntervalMs?: number;
  /**
   * Socket I/O: 'batched' (recvmmsg/sendmmsg through the udp-batch addon), 'dgram' (node:dgram), or 'auto' (the
   * default: batched when the addon is built, else dgram).
   */
  readonly io?: 'auto' | 'batched' | 'dgram';
  /** Set by the primary for its workers: each worker opens its own sockets with SO_REUSEPORT. */
  readonly reusePort?: boolean;
}

/** The I/O the server will use: the addon, or undefined for node:dgram (with why, for the log). */
function chooseIo(options: ServeStunOptions): { addon?: UdpBatchAddon; text: string } {
  const io = options.io ?? 'auto';
  if (io === 'dgram') return { text: 'node:dgram I/O (--io dgram)' };
  const load = loadUdpBatch();
  if (load.addon !== undefined) return { addon: load.addon, text: 'batched I/O (recvmmsg/sendmmsg)' };
  if (io === 'batched') throw new ExitError(ExitCode.SYSTEM, `--io batched: ${load.reason}`);
  return { text: `node:dgram I/O (${load.reason})` };
}

/** How often the server logs what it dropped (at most), unless told otherwise. */
const DROP_LOG_INTERVAL_MS = 60_000;

/** Parses `--metrics ADDRESS:PORT` (IPv6 as [ADDRESS]:PORT); usage errors name the flag and the text. */
export function parseMetricsFlag(text: string): { address: string; port: number } {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const address = match?.[1];
  const port = Number(match?.[2]);
  if (address === undefined || isIP(address) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ExitError(ExitCode.USAGE, `--metrics must be ADDRESS:PORT (IPv6 as [ADDRESS]:PORT), not ${JSON.stringify(text)}`);
  }
  return { address, port };
}

/** The per-worker share of a whole-server limit (documented: a source's total stays within the flag). */
function shareOf(rateLimit: RateLimit | 'off', workers: number): RateLimit | 'off' {
  if (rateLimit === 'off' || workers === 1) return rateLimit;
  return { packetsPerSecond: rateLimit.packetsPerSecond / workers, burst: Math.max(1, Math.ceil(rateLimit.burst / workers)) };
}

function createProtocol(options: ServeStunOptions, workers: number): StunServerProtocol {
  return new StunServerProtocol({
    primaryAddress: options.address,
    primaryPort: options.port,
    ...(options.alternateAddress === undefined ? {} : { alternateAddress: options.alternateAddress, alternatePort: options.alternatePort }),
    software: options.software,
    rateLimit: shareOf(options.rateLimit ?? DEFAULT_STUN_SERVER_LIMITS.rateLimit, workers),
    maxSources: Math.max(1, Math.ceil((options.maxSources ?? DEFAULT_STUN_SERVER_LIMITS.maxSources) / workers)),
  });
}

/** A running STUN server (one process, or a cluster's primary). */
export interface RunningStunServer {
  readonly addresses: readonly string[];
  /** Worker PIDs by worker number (empty when it runs in one process). */
  workerPids(): ReadonlyMap<number, number>;
  close(): Promise<void>;
}

/** Starts the RFC 5780 STUN server: in this process for one worker, else a node:cluster pool; logs through `log`. */
export async function startStunServer(options: ServeStunOptions, log: (line: string) => void): Promise<RunningStunServer> {
  const workers = options.workers ?? availableParallelism();
  const mode = options.alternateAddress !== undefined ? 'RFC 5780 (two addresses × two ports)' : 'RFC 8489 only (one address: CHANGE-REQUEST gets 420)';
  const limit = options.rateLimit ?? DEFAULT_STUN_SERVER_LIMITS.rateLimit;
  const limitText = limit === 'off' ? 'no rate limit' : `rate limit ${limit.packetsPerSecond}/s burst ${limit.burst} per source IP`;
  let metricsServer: Server | undefined;
  const io = chooseIo(options);

  if (workers === 1) {
    const protocol = createProtocol(options, 1);
    // Metrics first: when its port is taken, no UDP socket is left open behind the error.
    if (options.metrics !== undefined) {
      const prom = await loadPromClient();
      const registry = new prom.Registry();
      registerStunMetrics(prom, registry, '1', protocol);
      metricsServer = await serveMetrics(options.metrics.address, options.metrics.port, registry.contentType, () => registry.metrics());
    }
    let server: SharedUdpServer;
    try {
      const onError = (error: Error): void => log(`natscope stun: error: ${error.message}`);
      server = io.addon !== undefined ? runBatchedUdpServer(protocol, systemClock, io.addon, onError) : await runSharedUdpServer(protocol, systemClock, onError);
    } catch (error) {
      metricsServer?.close();
      throw error;
    }
    let before: Record<string, number> = { ...protocol.stats.drops };
    const timer = setInterval(() => {
      const line = describeDrops(protocol.stats.drops, before);
      before = { ...protocol.stats.drops };
      if (line !== undefined) log(`natscope stun: dropped in the last ${describeInterval(options)}: ${line}`);
    }, options.dropLogIntervalMs ?? DROP_LOG_INTERVAL_MS);
    timer.unref();
    const addresses = server.addresses.map(formatTransportAddress);
    log(`natscope stun: listening on ${addresses.join(', ')}; ${mode}; 1 worker; ${io.text}; ${limitText}${metricsLine(options)}`);
    return {
      addresses,
      workerPids: () => new Map(),
      close: async () => {
        clearInterval(timer);
        metricsServer?.close();
        await server.close();
      },
    };
  }

  if (options.metrics !== undefined) {
    const prom = await loadPromClient();
    const aggregator = new prom.AggregatorRegistry();
    metricsServer = await serveMetrics(options.metrics.address, options.metrics.port, aggregator.contentType, async () => (await aggregator.clusterMetrics()) as string);
  }
  let addresses: readonly string[] = [];
  const latestDrops = new Map<number, Readonly<Record<string, number>>>();
  const onMessage = (_worker: number, message: WorkerMessage): void => {
    if (message.natscope === 'ready' && addresses.length === 0) addresses = message.addresses;
    if (message.natscope === 'drops') latestDrops.set(_worker, message.drops);
  };
  const exec = fileURLToPath(new URL('../stun-worker.js', import.meta.url));
  // Batched I/O: every worker opens its own four sockets with SO_REUSEPORT, and the kernel spreads flows over them
  // (no worker wakes for another's datagram). SO_REUSEPORT lets any process of the same user join the group, so the
  // primary first binds each address and port alone: a port that another server holds is refused here, and once
  // the workers hold it, a second natscope on the same port is refused the same way.
  let workerOptions: ServeStunOptions = { ...options, io: io.addon !== undefined ? 'batched' : 'dgram' };
  if (io.addon !== undefined) {
    try {
      closeFds(openBatchedSockets(createProtocol(options, workers), io.addon), io.addon);
    } catch (error) {
      metricsServer?.close();
      throw error;
    }
    workerOptions = { ...workerOptions, reusePort: true };
  }
  const pool = startWorkerPool(workers, { exec, env: { [STUN_WORKER_OPTIONS_ENV]: JSON.stringify(workerOptions) } }, log, onMessage);
  try {
    await pool.ready;
  } catch (error) {
    await pool.stop();
    metricsServer?.close();
    throw new ExitError(ExitCode.SYSTEM, (error as Error).message);
  }
  // Each worker reports its drop counts once a minute; the primary logs their sum's growth.
  const sum = (): Record<string, number> => {
    const total: Record<string, number> = {};
    for (const drops of latestDrops.values()) for (const [reason, n] of Object.entries(drops)) total[reason] = (total[reason] ?? 0) + n;
    return total;
  };
  let before = sum();
  const timer = setInterval(() => {
    const now = sum();
    const line = describeDrops(now, before);
    before = now;
    if (line !== undefined) log(`natscope stun: dropped in the last ${describeInterval(options)}: ${line}`);
  }, options.dropLogIntervalMs ?? DROP_LOG_INTERVAL_MS);
  timer.unref();
  log(`natscope stun: listening on ${addresses.join(', ')}; ${mode}; ${workers} workers (each enforces 1/${workers} of the limits); ${io.text}; ${limitText}${metricsLine(options)}`);
  return {
    addresses,
    workerPids: () => pool.pids(),
    close: async () => {
      clearInterval(timer);
      metricsServer?.close();
      await pool.stop();
    },
  };
}

function describeInterval(options: ServeStunOptions): string {
  const ms = options.dropLogIntervalMs ?? DROP_LOG_INTERVAL_MS;
  return ms === 60_000 ? 'minute' : `${ms / 1000} s`;
}

function metricsLine(options: ServeStunOptions): string {
  return options.metrics === undefined ? '' : `; metrics on http://${formatTransportAddress(options.metrics)}/metrics`;
}

/** The env var that carries a worker's ServeStunOptions (JSON) from the primary. */
export const STUN_WORKER_OPTIONS_ENV = 'NATSCOPE_STUN_WORKER_OPTIONS';

/** What a worker process needs of the outside world. */
export type WorkerIo = Pick<Io, 'stderr' | 'untilStopped'>;

/** The body of a cluster worker: the sockets (shared by the primary), metrics for the primary to gather, drop counts. */
export async function runStunWorker(options: ServeStunOptions, io: WorkerIo): Promise<void> {
  const workers = options.workers ?? availableParallelism();
  const n = workerNumber();
  const protocol = createProtocol(options, workers);
  let server: SharedUdpServer;
  try {
    const onError = (error: Error): void => io.stderr(`natscope stun: worker ${n}: error: ${error.message}`);
    if (options.reusePort === true) {
      const load = loadUdpBatch();
      if (load.addon === undefined) throw new Error(`worker ${n}: ${load.reason}`);
      server = runBatchedUdpServer(protocol, systemClock, load.addon, onError, true);
    } else {
      server = await runSharedUdpServer(protocol, systemClock, onError);
    }
  } catch (error) {
    // The primary reports it (once, for the whole server).
    tellPrimary({ natscope: 'failed', message: (error as Error).message });
    throw new ExitError(ExitCode.SYSTEM, (error as Error).message);
  }
  if (options.metrics !== undefined) {
    const prom = await loadPromClient();
    // prom-client answers the primary's AggregatorRegistry from the worker's global registry, once an
    // AggregatorRegistry exists in the worker too (its constructor adds the worker's message listener).
    registerStunMetrics(prom, prom.register, String(n), protocol);
    new prom.AggregatorRegistry();
  }
  const timer = setInterval(() => tellPrimary({ natscope: 'drops', drops: { ...protocol.stats.drops } }), (options.dropLogIntervalMs ?? DROP_LOG_INTERVAL_MS) / 2);
  timer.unref();
  tellPrimary({ natscope: 'ready', addresses: server.addresses.map(formatTransportAddress) });
  // Stop on a signal, or when the primary is gone.
  await Promise.race([io.untilStopped(), new Promise<void>((resolve) => process.once('disconnect', () => resolve()))]);
  clearInterval(timer);
  await server.close();
}
