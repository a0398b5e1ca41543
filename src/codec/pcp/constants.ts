/** PCP (RFC 6887) numbers: version, port, opcodes, result codes, sizes. */
export const PCP_VERSION = 2;
/** The server port, the same as NAT-PMP's (RFC 6887 §19.1). */
export const PCP_SERVER_PORT = 5351;
/** RFC 6887 §7: messages are at most 1100 bytes; larger ones are malformed. */
export const PCP_MAX_MESSAGE_BYTES = 1100;
/** The common request and response header (RFC 6887 §7.1, §7.2). */
export const PCP_HEADER_BYTES = 24;
/** MAP opcode data (RFC 6887 §11.1). */
export const PCP_MAP_DATA_BYTES = 36;

export const PcpOpcode = {
  ANNOUNCE: 0,
  MAP: 1,
  PEER: 2,
} as const;

/** RFC 6887 §7.4 result codes, with the RFC's names. */
export const PcpResultCode = {
  SUCCESS: 0,
  UNSUPP_VERSION: 1,
  NOT_AUTHORIZED: 2,
  MALFORMED_REQUEST: 3,
  UNSUPP_OPCODE: 4,
  UNSUPP_OPTION: 5,
  MALFORMED_OPTION: 6,
  NETWORK_FAILURE: 7,
  NO_RESOURCES: 8,
  UNSUPP_PROTOCOL: 9,
  USER_EX_QUOTA: 10,
  CANNOT_PROVIDE_EXTERNAL: 11,
  ADDRESS_MISMATCH: 12,
  EXCESSIVE_REMOTE_PEERS: 13,
} as const;

const NAMES = Object.fromEntries(Object.entries(PcpResultCode).map(([name, code]) => [code, name])) as Record<number, string>;

/** The RFC 6887 name of a result code ("ADDRESS_MISMATCH"), or "result N". */
export function pcpResultName(code: number): string {
  return NAMES[code] ?? `result ${code}`;
}

/** IANA protocol numbers used in MAP (RFC 6887 §11.1). */
export const PCP_PROTOCOL_NUMBER = { udp: 17, tcp: 6 } as const;
