import { createTransactionId } from '../codec/encode.js';
import { formatTransportAddress, sameTransportAddress, transportAddress, type TransportAddress } from '../codec/transport-address.js';
import type { BindingObservation, HairpinObservation, NatEvidence } from '../diagnose/evidence.js';
import { alternateAddressOf, mappedAddressOf } from '../diagnose/classify-nat.js';
import type { ChangeRequest } from '../codec/decode.js';
import { DEFAULT_RTO_BOUNDS, RtoEstimator, type RtoBounds } from '../protocol/rto-estimator.js';
import { RFC8489_DEFAULT_POLICY, type RetransmissionPolicy } from '../protocol/transaction.js';
import type { Clock, UdpNetwork } from './ports.js';
import { StunClient, type BindingTest } from './stun-client.js';


/** The shortest RTO of the port-allocation samples (see where it is used). */
const ALLOCATION_MIN_RTO_MS = 100;

/** Options of the RFC 5780 test run. */
export interface GatherOptions {
  readonly network: UdpNetwork;
  readonly clock: Clock;
  /** Candidate servers, resolved, most preferred first; all must be of `family`. */
  readonly servers: readonly TransportAddress[];
  readonly family: 'IPv4' | 'IPv6';
  /** Policy of the first contact with each server (RFC 8489 §6.2.1 defaults). */
  readonly policy?: RetransmissionPolicy;
  /** Bounds of the RTO measured on the first exchanges and used for the behaviour tests. */
  readonly rtoBounds?: RtoBounds;
  /** Fresh sockets whose first mappings show the port allocation (at least 2; default 3). */
  readonly allocationSockets?: number;
  /** Called as each stage starts, and during first contact after each try and every second, for a progress display. */
  readonly onProgress?: (progress: GatherProgress) => void;
}

/** Where a classification is, for a progress display (the CLI's spinner). */
export interface GatherProgress {
  readonly phase: 'resolving' | 'first-contact' | 'allocation' | 'behaviour';
  /** The same in words, e.g. "test I: no answer yet from 2 servers (try 3 of 7, 36 s left)". */
  readonly text: string;
  /** First contact: the most requests sent to any server still silent, of `maxAttempts`. */
  readonly attempt?: number;
  readonly maxAttempts?: number;
  /** First contact: the most seconds left before every silent server has timed out. */
  readonly secondsLeft?: number;
  /** First contact: how many candidate servers have not ended yet. */
  readonly serversLeft?: number;
}

/** RFC 8489 §6.2.1: the last request goes out at RTO × (2^(Rc−1) − 1), and the client waits Rm × RTO after it. */
export function transactionTimeoutMs(policy: RetransmissionPolicy): number {
  return policy.rtoMs * (2 ** (policy.rc - 1) - 1) + policy.rm * policy.rtoMs;
}

/** The RFC 3489 §11.2.4 CHANGE-REQUEST with both flags clear: some old servers (jstun) answer only requests that carry it. */
const ZERO_CHANGE_REQUEST: ChangeRequest = { changeIp: false, changePort: false };

/**
 * Runs the RFC 5780 §4 tests and returns their evidence. Each behaviour test gets a fresh socket so one
 * test's traffic cannot open a hole for another; independent tests run concurrently.
 */
export async function gatherNatEvidence(options: GatherOptions): Promise<NatEvidence> {
  const { network, clock, family } = options;
  const firstPolicy = options.policy ?? RFC8489_DEFAULT_POLICY;
  const estimator = new RtoEstimator(options.rtoBounds ?? DEFAULT_RTO_BOUNDS);
  const clients: StunClient[] = [];
  const open = async (): Promise<StunClient> => {
    const client = new StunClient(await network.bind(family), clock);
    clients.push(client);
    return client;
  };
  // Loss seen on the way (a retransmission answered, or a test not answered at all) makes a silence weaker evidence.
  let lossSeen = false;
  const learn = (observation: BindingObservation): BindingObservation => {
    if (observation.rttMs !== undefined) estimator.observe(observation.rttMs);
    if (observation.attempts > 1 || observation.outcome === 'timeout') lossSeen = true;
    return observation;
  };

  try {
    // Stage 1: test I from the mapping socket to every candidate; the first RFC 5780 server to answer wins.
    const progress = (p: GatherProgress): void => options.onProgress?.(p);
    progress({ phase: 'first-contact', text: `test I: looking for a STUN server among ${options.servers.length}` });
    const mappingClient = await open();
    const first = await contactServers({ client: mappingClient, network, clock, servers: options.servers, policy: firstPolicy, onProgress: progress });
    first.answered.forEach(learn);
    const testI = first.chosen;
    const base: NatEvidence = { localAddresses: network.localAddresses(), unreachable: first.unreachable, firstContacts: first.contacts };
    if (testI === undefined) {
      return { ...base, ...(first.failed === undefined ? {} : { mappingTestI: first.failed }) };
    }
    const server = testI.destination;
    const comparisons = first.answered.filter((o) => o !== testI);
    const other = alternateAddressOf(testI);
    // A server that answered only the request with a zero CHANGE-REQUEST gets one in every plain test too.
    const plain = testI.changeRequest === undefined ? {} : { changeRequest: ZERO_CHANGE_REQUEST };

    // Stage 2: test I from fresh sockets in a known order: port allocation samples, hairpin partners, RTT samples.
    progress({ phase: 'allocation', text: 'test I from fresh sockets: port allocation' });
    const allocationCount = Math.max(2, options.allocationSockets ?? 3);
    const allocationClients: StunClient[] = [];
    for (let i = 0; i < allocationCount; i += 1) allocationClients.push(await open());
    // A sample counts only when answered at its first send (port-allocation.ts), so a retransmission that a busy
    // host sends before the answer is read spoils it: these wait at least ALLOCATION_MIN_RTO_MS before resending.
    const adapted = estimator.adapt(firstPolicy);
    const allocationPolicy = { ...adapted, rtoMs: Math.max(adapted.rtoMs, ALLOCATION_MIN_RTO_MS) };
    const allocationSamples = (
      await Promise.all(allocationClients.map((c, i) => c.binding({ test: `allocation test I #${i + 1}`, destination: server, policy: allocationPolicy, ...plain })))
    ).map(learn);

    // Stage 3, concurrently: mapping tests II and III (RFC 5780 §4.3), filtering tests II and III (§4.4), hairpinning (§4.5).
    progress({ phase: 'behaviour', text: 'mapping, filtering and hairpinning tests' });
    const policy = estimator.adapt(firstPolicy);
    const pending: Promise<Partial<NatEvidence>>[] = [];
    if (other !== undefined) {
      pending.push(
        mappingClient
          .binding({ test: 'mapping test II', destination: transportAddress(other.address, server.port), policy, ...plain })
          .then((mappingTestII) => ({ mappingTestII: learn(mappingTestII) })),
        mappingClient.binding({ test: 'mapping test III', destination: other, policy, ...plain }).then((mappingTestIII) => ({ mappingTestIII: learn(mappingTestIII) })),
      );
      const filteringTest = async (name: string, changeIp: boolean): Promise<BindingObservation> => {
        const run = async (): Promise<BindingObservation> =>
          (await open()).binding({ test: name, destination: server, changeRequest: { changeIp, changePort: true }, policy, acceptFrom: 'any' });
        const first = await run();
        // RFC 5780 §4.4 reads a silence as filtering. On a lossy path every try of a test can be lost (at 20% each
        // way, 7 tries all fail about once in 1 300), which would name a filter that is not there: once loss has
        // been seen, a silence counts only when a second test from another fresh socket is silent too.
        return first.outcome === 'timeout' && lossSeen ? run() : first;
      };
      pending.push(
        filteringTest('filtering test II', true).then((filteringTestII) => ({ filteringTestII })),
        filteringTest('filtering test III', false).then((filteringTestIII) => ({ filteringTestIII })),
      );
    }
    const [h1, h2] = allocationClients;
    const [s1, s2] = allocationSamples;
    const m1 = mappedAddressOf(s1?.outcome === 'response' ? s1 : undefined);
    const m2 = mappedAddressOf(s2?.outcome === 'response' ? s2 : undefined);
    if (h1 !== undefined && h2 !== undefined && m1 !== undefined && m2 !== undefined) {
      pending.push(testHairpinning(h1, m1, h2, m2, policy).then((hairpinning) => ({ hairpinning })));
    }
    const results = await Promise.all(pending);
    return Object.assign({ ...base, server, mappingTestI: testI, comparisons, allocationSamples }, ...results) as NatEvidence;
  } finally {
    for (const client of clients) client.close();
  }
}

interface ServerContact {
  readonly chosen?: BindingObservation;
  readonly failed?: BindingObservation;
  readonly answered: BindingObservation[];
  readonly unreachable: TransportAddress[];
  /** How first contact ended with each server, in the order given. */
  readonly contacts: BindingObservation[];
}

interface ContactRun {
  readonly client: StunClient;
  readonly network: UdpNetwork;
  readonly clock: Clock;
  readonly servers: readonly TransportAddress[];
  readonly policy: RetransmissionPolicy;
  readonly onProgress: (progress: GatherProgress) => void;
}

/** Ends that say something about the server without an answer: ICMP errors and failed sends, seen on the companion. */
const SYSTEM_OUTCOMES = new Set(['port-unreachable', 'host-unreachable', 'send-error']);

/**
 * Test I to every candidate at once; settles when an RFC 5780 server answers or every server's contact has ended.
 * Beside each, a companion socket connected to the server sends its own test I, because Linux reports ICMP
 * unreachable only on connected sockets: "nothing listens there" ends that server's contact at once. A server
 * silent after three tries also gets test I with a zero CHANGE-REQUEST (jstun answers only those).
 */
function contactServers(run: ContactRun): Promise<ServerContact> {
  const { client, clock, servers, policy } = run;
  return new Promise((resolve) => {
    const answered: BindingObservation[] = [];
    const unreachable: TransportAddress[] = [];
    const contacts: Array<BindingObservation | undefined> = servers.map(() => undefined);
    let failed: BindingObservation | undefined;
    let remaining = servers.length;
    let settled = false;
    const ids = servers.map(() => createTransactionId());
    const retryIds = servers.map(() => createTransactionId());
    const companions: StunClient[] = [];
    const attempts = servers.map(() => 0);
    const deadlines = servers.map(() => clock.nowMs() + transactionTimeoutMs(policy));
    let cancelTicker: () => void = () => {};

    const report = (): void => {
      if (settled) return;
      const open = servers.map((_, i) => i).filter((i) => contacts[i] === undefined);
      if (open.length === 0) return;
      const attempt = Math.max(...open.map((i) => attempts[i] ?? 0));
      const secondsLeft = Math.max(0, Math.ceil((Math.max(...open.map((i) => deadlines[i] ?? 0)) - clock.nowMs()) / 1000));
      const who = open.length === 1 ? formatTransportAddress(servers[open[0]!]!) : `${open.length} servers`;
      run.onProgress({
        phase: 'first-contact',
        text: `test I: no answer yet from ${who} (try ${attempt} of ${policy.rc}, at most ${secondsLeft} s left)`,
        attempt,
        maxAttempts: policy.rc,
        secondsLeft,
        serversLeft: open.length,
      });
    };
    const tick = (): void => {
      report();
      if (!settled) cancelTicker = clock.setTimer(1000, tick);
    };

    const settle = (chosen: BindingObservation | undefined): void => {
      if (settled) return;
      settled = true;
      cancelTicker();
      ids.forEach((id) => client.cancel(id));
      retryIds.forEach((id) => client.cancel(id));
      companions.forEach((c) => c.close());
      // Without an RFC 5780 answer, the most preferred server that answered with a usable address is the primary one.
      const byServer = servers.map((s) => answered.find((o) => sameTransportAddress(o.destination, s))).filter((o): o is BindingObservation => o !== undefined);
      const fallback = byServer.find((o) => mappedAddressOf(o) !== undefined) ?? byServer[0];
      const pick = chosen ?? fallback;
      resolve({
        ...(pick === undefined ? {} : { chosen: pick }),
        ...(failed === undefined ? {} : { failed }),
        answered: [...answered],
        unreachable,
        contacts: contacts.filter((o): o is BindingObservation => o !== undefined),
      });
    };
    const ended = (i: number, observation: BindingObservation): void => {
      if (settled || contacts[i] !== undefined) return;
      contacts[i] = observation;
      remaining -= 1;
      client.cancel(ids[i]!);
      client.cancel(retryIds[i]!);
      if (observation.outcome === 'response') {
        answered.push(observation);
        if (alternateAddressOf(observation) !== undefined && mappedAddressOf(observation) !== undefined) return settle(observation);
      } else {
        if (observation.outcome === 'timeout') unreachable.push(observation.destination);
        failed ??= observation;
      }
      if (remaining === 0) settle(undefined);
      else report();
    };
    if (servers.length === 0) return settle(undefined);

    servers.forEach((destination, i) => {
      const startMs = clock.nowMs();
      let plain: BindingObservation | undefined;
      let retryStarted = false;
      let retryDone: BindingObservation | undefined;
      let retryStartMs = 0;
      const retryPending = (): boolean => retryStarted && retryDone === undefined;
      // The plain test and its zero-CHANGE-REQUEST twin: the first to bring evidence ends the contact; when both are
      // silent, one contact of all their tries, timed from the first send.
      const decide = (): void => {
        if (plain !== undefined && plain.outcome !== 'timeout') return ended(i, plain);
        // A server that does not know CHANGE-REQUEST may answer the twin with error 420: the plain test still counts.
        if (retryDone !== undefined && retryDone.outcome !== 'timeout' && retryDone.outcome !== 'error-response') return ended(i, retryDone);
        if (plain === undefined || retryPending()) return;
        if (retryDone === undefined) return ended(i, plain);
        if (retryDone.outcome === 'error-response') return ended(i, retryDone);
        ended(i, { ...mergeRejected(plain, retryDone), attempts: plain.attempts + retryDone.attempts, elapsedMs: retryDone.elapsedMs + (retryStartMs - startMs) });
      };
      const startRetry = (): void => {
        if (retryStarted || settled || contacts[i] !== undefined) return;
        retryStarted = true;
        retryStartMs = clock.nowMs();
        deadlines[i] = retryStartMs + transactionTimeoutMs(policy);
        void client.binding({ test: 'mapping test I', destination, policy, changeRequest: ZERO_CHANGE_REQUEST }, retryIds[i]).then((second) => {
          retryDone = second;
          decide();
        });
      };
      const test: BindingTest = {
        test: 'mapping test I',
        destination,
        policy,
        onAttempt: (attempt) => {
          attempts[i] = attempt;
          if (attempt === 3) startRetry();
          report();
        },
      };
      void client.binding(test, ids[i]).then((observation) => {
        plain = observation;
        decide();
      });
      void watchForIcmp(run, destination, companions, () => settled || contacts[i] !== undefined).then((icmp) => {
        if (icmp === undefined || settled || contacts[i] !== undefined) return;
        client.fail(ids[i]!, icmp.outcome, icmp.code);
        client.fail(retryIds[i]!, icmp.outcome, icmp.code);
      });
    });
    cancelTicker = clock.setTimer(1000, tick);
  });
}

function mergeRejected(a: BindingObservation, b: BindingObservation): BindingObservation {
  if (b.rejected === undefined) return a;
  const rejected: Record<string, number> = { ...a.rejected };
  for (const [k, v] of Object.entries(b.rejected)) rejected[k] = (rejected[k] ?? 0) + (v ?? 0);
  return { ...a, rejected };
}

/**
 * Sends test I from a socket connected to `destination` and resolves with the ICMP error (or failed send) the
 * system reports for it; undefined when none came before the contact ended or the platform cannot connect.
 */
async function watchForIcmp(
  run: ContactRun,
  destination: TransportAddress,
  companions: StunClient[],
  over: () => boolean,
): Promise<{ outcome: 'port-unreachable' | 'host-unreachable' | 'send-error'; code: string } | undefined> {
  if (run.network.connect === undefined) return undefined;
  let companion: StunClient;
  try {
    companion = new StunClient(await run.network.connect(destination), run.clock);
    if (over()) {
      companion.close();
      return undefined;
    }
  } catch (error) {
    // connect() fails at once when there is no route: the same evidence as a failed send.
    const code = ((error as { cause?: { code?: string } }).cause?.code ?? 'ENETUNREACH');
    return { outcome: 'send-error', code };
  }
  companions.push(companion);
  const observation = await companion.binding({ test: 'mapping test I (ICMP watch)', destination, policy: run.policy });
  companion.close();
  if (SYSTEM_OUTCOMES.has(observation.outcome) && observation.systemError !== undefined) {
    return { outcome: observation.outcome as 'port-unreachable' | 'host-unreachable' | 'send-error', code: observation.systemError };
  }
  return undefined;
}

/**
 * RFC 5780 §4.5: two sockets each send a Binding request to the other's mapped address. Sending both ways
 * also opens each side's filter toward the other, so a filtering NAT does not hide a working hairpin.
 */
async function testHairpinning(
  a: StunClient,
  mappedA: TransportAddress,
  b: StunClient,
  mappedB: TransportAddress,
  policy: RetransmissionPolicy,
): Promise<HairpinObservation> {
  const idA = createTransactionId();
  const idB = createTransactionId();
  const hex = (id: Uint8Array): string => Buffer.from(id).toString('hex');
  let from: TransportAddress | undefined;
  const arrived = (expected: Uint8Array) => (request: { transactionId: Uint8Array }, source: TransportAddress) => {
    if (hex(request.transactionId) !== hex(expected)) return;
    from ??= source;
    a.complete(idA, source);
    b.complete(idB, source);
  };
  const stopA = a.onRequest(arrived(idB));
  const stopB = b.onRequest(arrived(idA));
  try {
    const [toB, toA] = await Promise.all([
      a.binding({ test: 'hairpinning', destination: mappedB, policy }, idA),
      b.binding({ test: 'hairpinning', destination: mappedA, policy }, idB),
    ]);
    const received = toB.outcome === 'response' || toA.outcome === 'response';
    return { attempts: Math.max(toB.attempts, toA.attempts), received, ...(from === undefined ? {} : { from }) };
  } finally {
    stopA();
    stopB();
  }
}
