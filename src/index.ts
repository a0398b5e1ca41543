/** natscope's library API: named exports only. */
export { classify, type ClassifyOptions, type ClassifyReport, type TestRecord } from './api/classify.js';
export { DEFAULT_STUN_SERVERS } from './api/default-servers.js';
export { punch, explainPunch, readAssumedClassification, DEFAULT_ECHO_PORT, type PunchCommandOptions, type PunchReport, type LifetimeReport } from './api/punch.js';
export { labUp, labDown, labExec, labIsUp, LAB_HOSTS, type LabUpOptions, type LabDescription } from './api/lab.js';
export { LAB_PRESETS, findPreset, type LabPreset } from './lab/presets.js';
export { LifetimeSearch, DEFAULT_LIFETIME_SEARCH, type LifetimeSearchConfig, type LifetimeResult, type LifetimeAction } from './diagnose/lifetime-search.js';
export { EchoServerProtocol, type EchoServerConfig } from './protocol/echo-server.js';
export { encodeEchoMessage, decodeEchoMessage, type EchoMessage, type ProbeVia } from './protocol/echo-messages.js';
export { classifyNat, mappedAddressOf } from './diagnose/classify-nat.js';
export type { BindingObservation, HairpinObservation, NatEvidence } from './diagnose/evidence.js';
export type { Behaviour, NatVerdict, PortAllocation, Rfc3489Type } from './diagnose/verdict.js';
export { decodeStunMessage, verifyMessageIntegrity, looksLikeStun, type StunMessage, type ChangeRequest } from './codec/decode.js';
export { encodeBindingRequest, encodeBindingSuccessResponse, encodeBindingErrorResponse, createTransactionId } from './codec/encode.js';
export { transportAddress, formatTransportAddress, type TransportAddress } from './codec/transport-address.js';
export { ClientTransaction, RFC8489_DEFAULT_POLICY, type RetransmissionPolicy } from './protocol/transaction.js';
export { StunServerProtocol, type StunServerConfig, type ServerAction } from './protocol/stun-server.js';
export { runDatagramServer, type RunningServer } from './platform/udp-server.js';
export type { DatagramAction } from './protocol/datagram-action.js';
export {
  NatscopeError,
  StunDecodeError,
  StunEncodeError,
  HostResolutionError,
  InvalidArgumentError,
  SocketError,
  LabError,
} from './errors.js';
export { unusableMappedAddress, alternateAddressOf, alternateAddressAttribute, describeFailedContact } from './diagnose/classify-nat.js';
export { BROKEN_ANSWER_KINDS, type RejectionKind, type BindingOutcome } from './diagnose/evidence.js';
export type { ClassifyProgress } from './api/classify.js';
export { punchDeadlineMs, CONTROL_FAILURES_TO_STOP, type MeasuredLifetime, type PunchProgress } from './probe/punch.js';
export { gateway, type GatewayOptions, type GatewayReport } from './api/gateway.js';
export { probeGateway, type GatewayFindings, type NatPmpFinding, type PcpFinding, type UpnpFinding } from './probe/gateway-probe.js';
export { verifyMapping, type VerifyReport } from './probe/verify-mapping.js';
export { decideDoubleNat, classifyExternalAddress, type DoubleNatEvidence, type DoubleNatVerdict } from './diagnose/double-nat.js';
export { encodeNatPmpExternalAddressRequest, encodeNatPmpMapRequest, decodeNatPmpResponse, type NatPmpResponse } from './codec/natpmp.js';
export { encodePcpRequest, decodePcpResponse, type PcpRequest, type PcpResponse } from './codec/pcp/messages.js';
export { PcpResultCode, pcpResultName } from './codec/pcp/constants.js';
export { PortMappingTransaction, natPmpSchedule, pcpSchedule } from './protocol/port-mapping-transaction.js';
export { GatewayError } from './errors.js';
export { DEFAULT_ECHO_LIMITS, type EchoServerLimits } from './protocol/echo-server.js';
export { EchoLoopGuard, DEFAULT_ECHO_LOOP_GUARD, isLoopProneSourcePort, type EchoLoopGuardLimits, type LoopGuardRefusal } from './protocol/echo-loop-guard.js';
export { describeLab, type LabNat } from './api/lab.js';
export { connect, runP2p, readAssumedP2pClassification, DEFAULT_RENDEZVOUS_PORT, type ConnectOptions, type P2pReport, type P2pConnection, type P2pSideReport } from './api/p2p.js';
export { RendezvousServerProtocol, DEFAULT_RENDEZVOUS_LIMITS, type RendezvousServerConfig, type RendezvousLimits } from './protocol/rendezvous-server.js';
export { encodeRendezvousMessage, decodeRendezvousMessage, type RendezvousMessage } from './protocol/rendezvous-messages.js';
export { decideP2pTechnique, predictsDirect, type P2pPrediction, type P2pSideNat, type P2pTechniqueDecision } from './diagnose/p2p-technique.js';
export { predictNextPorts } from './diagnose/port-prediction.js';
export { birthdayProbability, birthdayProbesFor } from './diagnose/birthday.js';
export type { CandidateKind } from './probe/connectivity-checks.js';
export { RendezvousUnreachableError, PeerTimeoutError, RendezvousProtocolError } from './errors.js';
export { DEFAULT_STUN_SERVER_LIMITS, emptyStunServerStats, type StunServerStats, type IgnoreReason } from './protocol/stun-server.js';
export { readBindingRequest, BindingResponseWriter, type BindingRequestView, type FastDropReason } from './protocol/stun-fast-path.js';
export { SourceRateLimiter, type RateLimit } from './protocol/rate-limiter.js';
export { runSharedUdpServer, type SharedUdpServer } from './platform/shared-udp-server.js';
