import { createTransactionId, encodeBindingRequest } from '../codec/encode.js';
import { sameTransportAddress, transportAddress, type TransportAddress } from '../codec/transport-address.js';
import type { BindingObservation, HairpinObservation, NatEvidence } from '../diagnose/evidence.js';
import { mappedAddressOf } from '../diagnose/classify-nat.js';
import { DEFAULT_RTO_BOUNDS, RtoEstimator, type RtoBounds } from '../protocol/rto-estimator.js';
import { RFC8489_DEFAULT_POLICY, type RetransmissionPolicy } from '../protocol/transaction.js';
import type { Clock, UdpNetwork } from './ports.js';
import { StunClient, type BindingTest } from './stun-client.js';

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
  /** Called as each stage starts, for a progress display. */
  readonly onProgress?: (stage: string) => void;
}

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
  const learn = (observation: BindingObservation): BindingObservation => {
    if (observation.rttMs !== undefined) estimator.observe(observation.rttMs);
    return observation;
  };

  try {
    // Stage 1: test I from the mapping socket to every candidate; the first RFC 5780 server to answer wins.
    options.onProgress?.('test I: looking for a STUN server');
    const mappingClient = await open();
    const first = await contactServers(mappingClient, options.servers, firstPolicy);
    first.answered.forEach(learn);
    const testI = first.chosen;
    const base: NatEvidence = { localAddresses: network.localAddresses(), unreachable: first.unreachable };
    if (testI === undefined) {
      return { ...base, ...(first.failed === undefined ? {} : { mappingTestI: first.failed }) };
    }
    const server = testI.destination;
    const comparisons = first.answered.filter((o) => o !== testI);
    const other = testI.otherAddress;

    // Stage 2: test I from fresh sockets in a known order: port allocation samples, hairpin partners, RTT samples.
    options.onProgress?.('test I from fresh sockets: port allocation');
    const allocationCount = Math.max(2, options.allocationSockets ?? 3);
    const allocationClients: StunClient[] = [];
    for (let i = 0; i < allocationCount; i += 1) allocationClients.push(await open());
    const allocationSamples = (
      await Promise.all(allocationClients.map((c, i) => c.binding({ test: `allocation test I #${i + 1}`, destination: server, policy: estimator.adapt(firstPolicy) })))
    ).map(learn);

    // Stage 3, concurrently: mapping tests II and III (RFC 5780 §4.3), filtering tests II and III (§4.4), hairpinning (§4.5).
    options.onProgress?.('mapping, filtering and hairpinning tests');
    const policy = estimator.adapt(firstPolicy);
    const pending: Promise<Partial<NatEvidence>>[] = [];
    if (other !== undefined) {
      pending.push(
        mappingClient
          .binding({ test: 'mapping test II', destination: transportAddress(other.address, server.port), policy })
          .then((mappingTestII) => ({ mappingTestII })),
        mappingClient.binding({ test: 'mapping test III', destination: other, policy }).then((mappingTestIII) => ({ mappingTestIII })),
      );
      const filteringTest = async (name: string, changeIp: boolean): Promise<BindingObservation> =>
        (await open()).binding({ test: name, destination: server, changeRequest: { changeIp, changePort: true }, policy, acceptFrom: 'any' });
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
}

/** Test I to every candidate at once; settles when an RFC 5780 server answers or every transaction has ended. */
function contactServers(client: StunClient, servers: readonly TransportAddress[], policy: RetransmissionPolicy): Promise<ServerContact> {
  return new Promise((resolve) => {
    const answered: BindingObservation[] = [];
    const unreachable: TransportAddress[] = [];
    let failed: BindingObservation | undefined;
    let remaining = servers.length;
    let settled = false;
    const ids = servers.map(() => createTransactionId());
    const settle = (chosen: BindingObservation | undefined): void => {
      if (settled) return;
      settled = true;
      ids.forEach((id) => client.cancel(id));
      // Without an RFC 5780 answer, the most preferred server that answered is the primary one.
      const fallback = servers.map((s) => answered.find((o) => sameTransportAddress(o.destination, s))).find((o) => o !== undefined);
      const pick = chosen ?? fallback;
      resolve({ ...(pick === undefined ? {} : { chosen: pick }), ...(failed === undefined ? {} : { failed }), answered: [...answered], unreachable });
    };
    if (servers.length === 0) settle(undefined);
    servers.forEach((destination, i) => {
      const test: BindingTest = { test: 'mapping test I', destination, policy };
      void client.binding(test, ids[i]).then((observation) => {
        if (settled) return;
        remaining -= 1;
        if (observation.outcome === 'response') {
          answered.push(observation);
          if (observation.otherAddress !== undefined) return settle(observation);
        } else {
          if (observation.outcome === 'timeout') unreachable.push(destination);
          failed ??= observation;
        }
        if (remaining === 0) settle(undefined);
      });
    });
  });
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
