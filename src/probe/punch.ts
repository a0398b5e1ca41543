import { formatTransportAddress, type TransportAddress } from '../codec/transport-address.js';
import { LifetimeSearch, type LifetimeResult, type LifetimeSearchConfig } from '../diagnose/lifetime-search.js';
import { DEFAULT_RTO_BOUNDS, RtoEstimator } from '../protocol/rto-estimator.js';
import { RFC8489_DEFAULT_POLICY, type RetransmissionPolicy } from '../protocol/transaction.js';
import type { ProbeVia } from '../protocol/echo-messages.js';
import { EchoClient, type EchoBusy, type EchoNoAnswer, type Registration } from './echo-client.js';
import type { Clock, UdpNetwork, UdpSocket } from './ports.js';
import { transactionTimeoutMs } from './gather-nat-evidence.js';
import { randomBytes } from 'node:crypto';
import { encodeEchoMessage } from '../protocol/echo-messages.js';

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
  /** The whole run ends by this long after it started, whatever the server does; default `punchDeadlineMs`. */
  readonly deadlineMs?: number;
  readonly onProgress?: (progress: PunchProgress) => void;
}

/** Control requests in a row that may go unanswered (or be refused) before the search calls the server gone. */
export const CONTROL_FAILURES_TO_STOP = 3;

/**
 * The longest a punch may take: first contact (one RFC 8489 timeout), each search's time target (1.25 L + 5 s)
 * doubled for slack, the sustained traffic, and half a second per mapping of the quota for its registration; the
 * filtering search, when asked, runs after the others with the whole quota.
 */
export function punchDeadlineMs(options: { maxLifetimeMs: number; maxSockets: number; sustainedTrafficMs: number; filtering: boolean; policy: RetransmissionPolicy }): number {
  const { rtoMs, rc, rm } = options.policy;
  const firstContactMs = rtoMs * (2 ** (rc - 1) - 1) + rm * rtoMs;
  const searchMs = 2 * (1.25 * options.maxLifetimeMs + 5000) + options.maxSockets * 500;
  return firstContactMs + searchMs + options.sustainedTrafficMs + (options.filtering ? searchMs : 0);
}

/** What the progress display shows. */
export interface PunchProgress {
  readonly stage: string;
  readonly elapsedMs: number;
  /** First contact: requests sent so far, of `maxAttempts`, and the most seconds left before it gives up. */
  readonly attempt?: number;
  readonly maxAttempts?: number;
  readonly secondsLeft?: number;
  readonly lifetime?: { readonly lowerMs: number; readonly upperMs: number };
  readonly sustained?: { readonly lowerMs: number; readonly upperMs: number };
  readonly filtering?: { readonly lowerMs: number; readonly upperMs: number };
}

/** A lifetime search's answer; `stoppedEarly` says why it ended before its tolerance (then the bracket is partial). */
export type MeasuredLifetime = LifetimeResult & { readonly stoppedEarly?: string };

/** What the punch found. */
export interface PunchEvidence {
  /** True: the server answered through the hole; false: it answered another socket but not through this one; null: unknown. */
  readonly punched: boolean | null;
  /** Why the run is inconclusive or partial: the server was not reached, was busy, stopped answering, or the deadline came. */
  readonly reason?: string;
  /** The server's BUSY refusal, when that is why. */
  readonly busy?: { readonly reason: string; readonly retryAfterMs: number };
  readonly mappedAddress?: TransportAddress;
  readonly rttMs?: number;
  /** A probe from the server's alternate port came in through the hole (null: not tested). */
  readonly alternatePortReachable: boolean | null;
  readonly lifetime?: MeasuredLifetime;
  readonly sustainedLifetime?: MeasuredLifetime;
  readonly filteringLifetime?: MeasuredLifetime;
}

/** Shared by the searches: whether the echo server still answers control requests, and the run's deadline. */
class ServerHealth {
  private failures = 0;
  lastAnswerMs: number;
  stopped: string | undefined;
  busy: EchoBusy | undefined;
  /** Asks the server something at once (a REGISTER on the control socket) and reports the outcome here. */
  livenessCheck: (() => Promise<void>) | undefined;
  private checking = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    private readonly startedMs: number,
    private readonly server: string,
  ) {
    this.lastAnswerMs = startedMs;
  }

  answered(atMs: number): void {
    this.failures = 0;
    this.lastAnswerMs = Math.max(this.lastAnswerMs, atMs);
  }

  /** A control request went unanswered or was refused; after CONTROL_FAILURES_TO_STOP in a row the searches stop. */
  failed(busy?: EchoBusy): void {
    this.failures += 1;
    if (busy !== undefined) this.busy = busy;
    if (this.failures < CONTROL_FAILURES_TO_STOP) {
      void this.confirm();
      return;
    }
    if (this.stopped !== undefined) return;
    const at = ((this.lastAnswerMs - this.startedMs) / 1000).toFixed(1);
    this.stop(
      busy !== undefined
        ? `the echo server ${this.server} is busy (${busy.reason}): it refused ${this.failures} requests in a row (its last normal answer at ${at} s)`
        : `the echo server ${this.server} stopped answering at ${at} s (${this.failures} control requests in a row unanswered)`,
    );
  }

  /** After a failure, asks again at once rather than at the search's pace, so a dead server is known in a few timeouts. */
  private async confirm(): Promise<void> {
    if (this.checking || this.livenessCheck === undefined) return;
    this.checking = true;
    try {
      while (this.failures > 0 && this.failures < CONTROL_FAILURES_TO_STOP && this.stopped === undefined) await this.livenessCheck();
    } finally {
      this.checking = false;
    }
  }

  stop(reason: string): void {
    if (this.stopped !== undefined) return;
    this.stopped = reason;
    for (const listener of [...this.listeners]) listener();
  }

  onStop(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get nowMs(): number {
    return this.clock.nowMs();
  }
}

const systemErrorMeaning = (code: string): string =>
  code === 'ENETUNREACH' ? ' (no route to that network)' : code === 'EHOSTUNREACH' ? ' (no route to that host)' : code === 'EACCES' || code === 'EPERM' ? ' (a local firewall refused it)' : '';

/** Why a first registration got no answer, in words. */
function describeNoAnswer(server: TransportAddress, answer: EchoNoAnswer, elapsedMs: number): string {
  const where = formatTransportAddress(server);
  const error = answer.systemError;
  if (error?.kind === 'icmp' && error.code === 'ECONNREFUSED') {
    return `the host ${server.address} answered that nothing listens on port ${server.port} (ICMP port unreachable): no echo server runs at ${where}`;
  }
  if (error?.kind === 'icmp') return `an ICMP error (${error.code}) came back for ${where}: a router says the host cannot be reached`;
  if (error !== undefined) return `this host could not send to ${where}: ${error.code}${systemErrorMeaning(error.code)}`;
  return `no answer from ${where} after ${answer.attempts} tries (${(elapsedMs / 1000).toFixed(1)} s); a single server cannot tell a blocked network from a server that is down`;
}

const isBusy = (answer: Registration | EchoBusy | EchoNoAnswer): answer is EchoBusy => !('token' in answer) && answer.type === 'busy';

const busyText = (server: TransportAddress, busy: EchoBusy): string =>
  `the echo server ${formatTransportAddress(server)} is busy (${busy.reason}) and asks to retry after ${(busy.retryAfterMs / 1000).toFixed(1)} s`;

/** Punches a hole to the echo server, confirms it, and measures how long it stays open when idle. */
export async function punchAndMeasure(options: PunchOptions): Promise<PunchEvidence> {
  const { network, clock, server } = options;
  const firstPolicy = options.policy ?? RFC8489_DEFAULT_POLICY;
  const serverSockets = [server, ...(options.alternatePort === undefined ? [] : [{ ...server, port: options.alternatePort }])];
  const open = async (): Promise<EchoClient> => new EchoClient(await network.bind(options.family), clock, server, serverSockets);
  const started = clock.nowMs();
  const progress = (stage: string, extra: Partial<PunchProgress> = {}): void => options.onProgress?.({ stage, elapsedMs: clock.nowMs() - started, ...extra });

  // 1. Punch: a fresh socket sends; the server's answer from the port the datagram came in on proves the hole.
  // The control socket registers too: its answer alone shows the server is up but this hole did not work.
  progress(`punching a hole to ${formatTransportAddress(server)}`);
  const punchClient = await open();
  const control = await open();
  const health = new ServerHealth(clock, started, formatTransportAddress(server));
  const deadlineMs = options.deadlineMs;
  // setTimeout holds at most 2^31 − 1 ms (24.8 days); a longer deadline is no deadline in practice.
  const cancelDeadline =
    deadlineMs === undefined || deadlineMs > 2 ** 31 - 1
      ? () => {}
      : clock.setTimer(deadlineMs, () => health.stop(`the run reached its deadline of ${(deadlineMs / 1000).toFixed(0)} s`));
  try {
    const watch = watchForIcmp(network, server, [punchClient, control]);
    // Until the server answers, the display shows the try and the seconds left (RFC 8489 §6.2.1 schedule).
    const contactStartMs = clock.nowMs();
    let cancelTicker: () => void = () => {};
    const tick = (): void => {
      const elapsed = clock.nowMs() - contactStartMs;
      let attempt = 0;
      while (attempt < firstPolicy.rc && firstPolicy.rtoMs * (2 ** attempt - 1) <= elapsed) attempt += 1;
      const secondsLeft = Math.max(0, Math.ceil((transactionTimeoutMs(firstPolicy) - elapsed) / 1000));
      progress(`no answer yet from ${formatTransportAddress(server)} (try ${attempt} of ${firstPolicy.rc}, at most ${secondsLeft} s left)`, { attempt, maxAttempts: firstPolicy.rc, secondsLeft });
      cancelTicker = clock.setTimer(1000, tick);
    };
    cancelTicker = clock.setTimer(1000, tick);
    const [punchAnswer, controlAnswer] = await Promise.all([punchClient.registerOrRefusal(firstPolicy), control.registerOrRefusal(firstPolicy)]).finally(() => cancelTicker());
    watch.stop();
    if (!('token' in punchAnswer)) {
      const busy = isBusy(punchAnswer) ? punchAnswer : isBusy(controlAnswer) ? controlAnswer : undefined;
      if (busy !== undefined) {
        return { punched: null, reason: busyText(server, busy), busy: { reason: busy.reason, retryAfterMs: busy.retryAfterMs }, alternatePortReachable: null };
      }
      // RFC 4787 §5: the server is up (it answered the control socket), yet nothing came back through this hole.
      if ('token' in controlAnswer) return { punched: false, alternatePortReachable: null };
      return { punched: null, reason: describeNoAnswer(server, punchAnswer as EchoNoAnswer, clock.nowMs() - started), alternatePortReachable: null };
    }
    const registration = punchAnswer;
    health.answered(registration.answeredAtMs);
    const estimator = new RtoEstimator(DEFAULT_RTO_BOUNDS);
    if (registration.rttMs !== undefined) estimator.observe(registration.rttMs);
    const policy = estimator.adapt(firstPolicy);
    health.livenessCheck = async () => {
      const answer = await control.registerOrRefusal(policy);
      if ('token' in answer) health.answered(answer.answeredAtMs);
      else if (isBusy(answer) || answer.cancelled !== true) health.failed(isBusy(answer) ? answer : undefined);
      else health.stop('the run ended'); // the control socket was closed: the run is over
    };

    // 2. Does the hole let in the server's other port? (Address-and-port-dependent filtering says no.)
    let alternatePortReachable: boolean | null = null;
    if (options.alternatePort !== undefined) {
      const ack = await control.requestProbe(policy, registration, 'alternate-port', 0);
      if (ack !== undefined && ack !== 'cancelled' && 'accepted' in ack && ack.accepted) {
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
        ? runLifetimeSearch({ clock, open, control, health, policy, config: searchConfig, sustainedTrafficMs: 0, via: 'same', onBracket: (b) => ((brackets.lifetime = b), report()) })
        : undefined,
      options.measureSustained ?? true
        ? runLifetimeSearch({ clock, open, control, health, policy, config: searchConfig, sustainedTrafficMs: options.sustainedTrafficMs ?? 3000, via: 'same', onBracket: (b) => ((brackets.sustained = b), report()) })
        : undefined,
    ]);
    const filteringLifetime =
      options.measureFilteringLifetime === true && alternatePortReachable === true && health.stopped === undefined
        ? await runLifetimeSearch({ clock, open, control, health, policy, config: { ...options.search, maxSockets: quota }, sustainedTrafficMs: 0, via: 'alternate-port', onBracket: (b) => ((brackets.filtering = b), progress('measuring how long the other port may get in', brackets)) })
        : undefined;
    return {
      punched: true,
      ...(health.stopped === undefined ? {} : { reason: health.stopped }),
      ...(health.busy === undefined ? {} : { busy: { reason: health.busy.reason, retryAfterMs: health.busy.retryAfterMs } }),
      mappedAddress: registration.observed,
      ...(registration.rttMs === undefined ? {} : { rttMs: registration.rttMs }),
      alternatePortReachable,
      ...(lifetime === undefined ? {} : { lifetime }),
      ...(sustainedLifetime === undefined ? {} : { sustainedLifetime }),
      ...(filteringLifetime === undefined ? {} : { filteringLifetime }),
    };
  } finally {
    cancelDeadline();
    punchClient.close();
    control.close();
  }
}

/**
 * Registers from a socket connected to the server beside the first registrations: Linux reports ICMP port
 * unreachable only on connected sockets, and one ends the first contact at once instead of after 39.5 s.
 */
function watchForIcmp(network: UdpNetwork, server: TransportAddress, clients: readonly EchoClient[]): { stop: () => void } {
  let stopped = false;
  let companion: UdpSocket | undefined;
  const end = (error: { kind: 'send' | 'icmp'; code: string }): void => {
    if (stopped) return;
    for (const client of clients) client.abort(error);
  };
  if (network.connect !== undefined) {
    network.connect(server).then(
      (socket) => {
        if (stopped) return socket.close();
        companion = socket;
        socket.onDatagram(() => {});
        socket.onError?.((error) => end({ kind: error.kind, code: error.code }));
        // One REGISTER is enough to draw the ICMP error; its answer, if any, is not needed.
        socket.send(encodeEchoMessage({ type: 'register', token: new Uint8Array(randomBytes(16)) }), server);
      },
      (error: { cause?: { code?: string } }) => end({ kind: 'send', code: error.cause?.code ?? 'ENETUNREACH' }),
    );
  }
  return {
    stop: () => {
      stopped = true;
      companion?.close();
    },
  };
}

interface SearchRun {
  readonly clock: Clock;
  readonly open: () => Promise<EchoClient>;
  readonly control: EchoClient;
  readonly health: ServerHealth;
  readonly policy: RetransmissionPolicy;
  readonly config: Partial<LifetimeSearchConfig>;
  readonly sustainedTrafficMs: number;
  /** Which server socket probes the holes: the one they were punched to, or its other port (filtering). */
  readonly via: ProbeVia;
  readonly onBracket: (bracket: { lowerMs: number; upperMs: number }) => void;
}

/**
 * Carries out a LifetimeSearch's actions with real sockets (or a virtual network) and the clock. It always ends:
 * when the search is done, when the server stops answering (or keeps refusing), at the run's deadline, or when
 * the search has nothing in flight and nothing to wait for.
 */
function runLifetimeSearch(run: SearchRun): Promise<MeasuredLifetime> {
  const { clock, control, policy, health } = run;
  const search = new LifetimeSearch(run.config, clock.nowMs());
  const sockets = new Map<number, { client?: EchoClient; registration?: Registration }>();
  let inFlight = 0;
  return new Promise((resolve) => {
    let cancelTimer: () => void = () => {};
    let scheduled = false;
    let finished = false;
    const stopEarly = (reason: string): void => {
      if (finished) return;
      finished = true;
      cancelTimer();
      unsubscribe();
      for (const s of sockets.values()) s.client?.close();
      resolve({ ...search.stop(clock.nowMs()), stoppedEarly: reason });
    };
    const unsubscribe = health.onStop(() => stopEarly(health.stopped ?? 'stopped'));
    const wake = (): void => {
      if (scheduled) return;
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        step();
      });
    };
    const track = (work: Promise<void>): void => {
      inFlight += 1;
      void work.then(() => {
        inFlight -= 1;
        wake();
      });
    };
    const step = (): void => {
      if (finished) return;
      if (health.stopped !== undefined) return stopEarly(health.stopped);
      cancelTimer();
      for (const action of search.poll(clock.nowMs())) {
        switch (action.type) {
          case 'open':
            track(openSocket(action.socketId));
            break;
          case 'read':
            track(readSocket(action.socketId));
            break;
          case 'close':
            sockets.get(action.socketId)?.client?.close();
            sockets.delete(action.socketId);
            break;
          case 'wait':
            if (action.untilMs !== undefined) cancelTimer = clock.setTimer(Math.max(0, action.untilMs - clock.nowMs()), wake);
            // Nothing to wait for and nothing in flight: the search cannot move again (every open failed).
            else if (inFlight === 0) return stopEarly(`the search ran out of sockets to read at ${(search.bracket.lowerMs / 1000).toFixed(1)} s of idleness`);
            break;
          case 'done':
            finished = true;
            unsubscribe();
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
      const answer = await entry.client.registerOrRefusal(policy);
      if (!('token' in answer)) {
        // A registration cut short by the search's own end says nothing about the server.
        if (!finished && !(answer.type === 'no-answer' && answer.cancelled === true)) health.failed(answer.type === 'busy' ? answer : undefined);
        entry.client.close();
        sockets.delete(id);
        search.openFailed(id);
        return;
      }
      health.answered(answer.answeredAtMs);
      const registration = answer;
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
      if (ack === undefined || ack === 'cancelled' || !('accepted' in ack)) {
        if (!finished && ack !== 'cancelled') health.failed(ack);
        drop();
        search.readLost(id);
        return;
      }
      health.answered(ack.atMs);
      if (!ack.accepted) {
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
