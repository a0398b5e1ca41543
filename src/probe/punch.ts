import { formatTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import { LifetimeSearch, type LifetimeResult, type LifetimeSearchConfig } from '../diagnose/lifetime-search.js';
import { DEFAULT_RTO_BOUNDS, RtoEstimator } from '../protocol/rto-estimator.js';
import { RFC8489_DEFAULT_POLICY, type RetransmissionPolicy } from '../protocol/transaction.js';
import type { ProbeVia } from '../protocol/echo-messages.js';
import { EchoClient, type Registration } from './echo-client.js';
import type { Clock, UdpNetwork } from './ports.js';

/** Options of the punch and lifetime measurement. */
export interface PunchOptions {
  readonly network: UdpNetwork;
  readonly clock: Clock;
  /** The echo server's main socket. */
  readonly server: TransportAddress;
  /** Its alternate port, to test whether a hole also lets in another port of the server. */
  readonly alternatePort?: number;
  readonly family: 'IPv4' | 'IPv6';
  readonly policy?: RetransmissionPolicy;
  /** Measure the idle lifetime of a hole after one exchange, and after sustained two-way traffic. */
  readonly measureLifetime?: boolean;
  readonly measureSustained?: boolean;
  /**
   * Also measure how long the filter keeps letting in the server's *other* port (after the other searches, with
   * the whole quota); only when that port got in at all (endpoint-independent or address-dependent filtering).
   */
  readonly measureFilteringLifetime?: boolean;
  readonly search?: Partial<LifetimeSearchConfig>;
  /** Two-way traffic before a "sustained" hole goes idle (Linux needs more than 2 s to call a flow a stream). */
  readonly sustainedTrafficMs?: number;
  readonly onProgress?: (progress: PunchProgress) => void;
}

/** What the progress display shows. */
export interface PunchProgress {
  readonly stage: string;
  readonly elapsedMs: number;
  readonly lifetime?: { readonly lowerMs: number; readonly upperMs: number };
  readonly sustained?: { readonly lowerMs: number; readonly upperMs: number };
  readonly filtering?: { readonly lowerMs: number; readonly upperMs: number };
}

/** What the punch found. */
export interface PunchEvidence {
  readonly punched: boolean;
  readonly mappedAddress?: TransportAddress;
  readonly rttMs?: number;
  /** A probe from the server's alternate port came in through the hole (null: not tested). */
  readonly alternatePortReachable: boolean | null;
  readonly lifetime?: LifetimeResult;
  readonly sustainedLifetime?: LifetimeResult;
  readonly filteringLifetime?: LifetimeResult;
}

/** Punches a hole to the echo server, confirms it, and measures how long it stays open when idle. */
export async function punchAndMeasure(options: PunchOptions): Promise<PunchEvidence> {
  const { network, clock, server } = options;
  const firstPolicy = options.policy ?? RFC8489_DEFAULT_POLICY;
  const serverSockets = [server, ...(options.alternatePort === undefined ? [] : [{ ...server, port: options.alternatePort }])];
  const open = async (): Promise<EchoClient> => new EchoClient(await network.bind(options.family), clock, server, serverSockets);
  const started = clock.nowMs();
  const progress = (stage: string, extra: Partial<PunchProgress> = {}): void => options.onProgress?.({ stage, elapsedMs: clock.nowMs() - started, ...extra });

  // 1. Punch: a fresh socket sends; the server's answer from the port the datagram came in on proves the hole.
  progress(`punching a hole to ${formatTransportAddress(server)}`);
  const punchClient = await open();
  const control = await open();
  try {
    const registration = await punchClient.register(firstPolicy);
    if (registration === undefined) return { punched: false, alternatePortReachable: null };
    const estimator = new RtoEstimator(DEFAULT_RTO_BOUNDS);
    if (registration.rttMs !== undefined) estimator.observe(registration.rttMs);
    const policy = estimator.adapt(firstPolicy);

    // 2. Does the hole let in the server's other port? (Address-and-port-dependent filtering says no.)
    let alternatePortReachable: boolean | null = null;
    if (options.alternatePort !== undefined) {
      const ack = await control.requestProbe(policy, registration, 'alternate-port', 0);
      if (ack?.accepted === true) {
        const waitMs = Math.max(300, 4 * (registration.rttMs ?? 100));
        alternatePortReachable = (await punchClient.waitForProbe(ack.nonce, ack.atMs + waitMs)) !== undefined;
      }
    }

    // 3. Lifetimes, both searches at once, sharing the mapping quota.
    const quota = options.search?.maxSockets ?? 64;
    const both = (options.measureLifetime ?? true) && (options.measureSustained ?? true);
    const searchConfig = { ...options.search, maxSockets: both ? Math.floor(quota / 2) : quota };
    const brackets: { lifetime?: { lowerMs: number; upperMs: number }; sustained?: { lowerMs: number; upperMs: number }; filtering?: { lowerMs: number; upperMs: number } } = {};
    const report = (): void => progress('measuring how long the hole stays open', brackets);
    const [lifetime, sustainedLifetime] = await Promise.all([
      options.measureLifetime ?? true
        ? runLifetimeSearch({ clock, open, control, policy, config: searchConfig, sustainedTrafficMs: 0, via: 'same', onBracket: (b) => ((brackets.lifetime = b), report()) })
        : undefined,
      options.measureSustained ?? true
        ? runLifetimeSearch({ clock, open, control, policy, config: searchConfig, sustainedTrafficMs: options.sustainedTrafficMs ?? 3000, via: 'same', onBracket: (b) => ((brackets.sustained = b), report()) })
        : undefined,
    ]);
    const filteringLifetime =
      options.measureFilteringLifetime === true && alternatePortReachable === true
        ? await runLifetimeSearch({ clock, open, control, policy, config: { ...options.search, maxSockets: quota }, sustainedTrafficMs: 0, via: 'alternate-port', onBracket: (b) => ((brackets.filtering = b), progress('measuring how long the other port may get in', brackets)) })
        : undefined;
    return {
      punched: true,
      mappedAddress: registration.observed,
      ...(registration.rttMs === undefined ? {} : { rttMs: registration.rttMs }),
      alternatePortReachable,
      ...(lifetime === undefined ? {} : { lifetime }),
      ...(sustainedLifetime === undefined ? {} : { sustainedLifetime }),
      ...(filteringLifetime === undefined ? {} : { filteringLifetime }),
    };
  } finally {
    punchClient.close();
    control.close();
  }
}

interface SearchRun {
  readonly clock: Clock;
  readonly open: () => Promise<EchoClient>;
  readonly control: EchoClient;
  readonly policy: RetransmissionPolicy;
  readonly config: Partial<LifetimeSearchConfig>;
  readonly sustainedTrafficMs: number;
  /** Which server socket probes the holes: the one they were punched to, or its other port (filtering). */
  readonly via: ProbeVia;
  readonly onBracket: (bracket: { lowerMs: number; upperMs: number }) => void;
}

/** Carries out a LifetimeSearch's actions with real sockets (or a virtual network) and the clock. */
function runLifetimeSearch(run: SearchRun): Promise<LifetimeResult> {
  const { clock, control, policy } = run;
  const search = new LifetimeSearch(run.config, clock.nowMs());
  const sockets = new Map<number, { client?: EchoClient; registration?: Registration }>();
  return new Promise((resolve) => {
    let cancelTimer: () => void = () => {};
    let scheduled = false;
    const wake = (): void => {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        step();
      });
    };
    const step = (): void => {
      cancelTimer();
      for (const action of search.poll(clock.nowMs())) {
        switch (action.type) {
          case 'open':
            void openSocket(action.socketId).then(wake);
            break;
          case 'read':
            void readSocket(action.socketId).then(wake);
            break;
          case 'close':
            sockets.get(action.socketId)?.client?.close();
            sockets.delete(action.socketId);
            break;
          case 'wait':
            if (action.untilMs !== undefined) cancelTimer = clock.setTimer(Math.max(0, action.untilMs - clock.nowMs()), wake);
            break;
          case 'done':
            for (const s of sockets.values()) s.client?.close();
            resolve(action.result);
            return;
        }
      }
      const { lowerMs, upperMs } = search.bracket;
      run.onBracket({ lowerMs, upperMs });
    };
    const openSocket = async (id: number): Promise<void> => {
      const entry: { client?: EchoClient; registration?: Registration } = {};
      sockets.set(id, entry);
      try {
        entry.client = await run.open();
      } catch {
        search.openFailed(id);
        return;
      }
      const registration = await entry.client.register(policy);
      if (registration === undefined) {
        entry.client.close();
        sockets.delete(id);
        search.openFailed(id);
        return;
      }
      entry.registration = registration;
      let lastTrafficMs = registration.answeredAtMs;
      // Sustained: keep two-way traffic going for a while, then fall silent.
      for (let t = 0; t < run.sustainedTrafficMs; t += 500) {
        await new Promise<void>((r) => clock.setTimer(500, r));
        const at = await entry.client.echo(policy);
        if (at !== undefined) lastTrafficMs = at;
      }
      search.openedAt(id, lastTrafficMs);
    };
    const readSocket = async (id: number): Promise<void> => {
      const entry = sockets.get(id);
      const drop = (): void => {
        entry?.client?.close();
        sockets.delete(id);
      };
      if (entry?.client === undefined || entry.registration === undefined) {
        drop();
        search.readLost(id);
        return;
      }
      const ack = await control.requestProbe(policy, entry.registration, run.via, 0);
      if (ack === undefined || !ack.accepted) {
        drop();
        search.readLost(id);
        return;
      }
      // The probe left the server with the ack; it has a round trip's grace, and two copies against loss.
      const arrived = await entry.client.waitForProbe(ack.nonce, ack.atMs + Math.max(250, 4 * policy.rtoMs));
      if (arrived === undefined) drop(); // the mapping is gone: this socket is done
      search.readResult(id, arrived !== undefined, arrived ?? ack.atMs);
    };
    step();
  });
}
