/** Base class of every error natscope's library throws: each has a stable `code`. */
export class NatscopeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A datagram is not a well-formed STUN message (RFC 8489 §6.3). */
export class StunDecodeError extends NatscopeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STUN_DECODE', `Malformed STUN message: ${message}`, options);
  }
}

/** A message could not be encoded from the values given. */
export class StunEncodeError extends NatscopeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STUN_ENCODE', `Cannot encode STUN message: ${message}`, options);
  }
}

/** A host name did not resolve to any address of the family asked for. */
export class HostResolutionError extends NatscopeError {
  readonly host: string;
  constructor(host: string, detail: string, options?: { cause?: unknown }) {
    super('ERR_HOST_UNRESOLVABLE', `Cannot resolve ${host}: ${detail}`, options);
    this.host = host;
  }
}

/** An argument to a library function or a command is not valid. */
export class InvalidArgumentError extends NatscopeError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
  }
}

/** A UDP socket could not be opened, bound or used. */
export class SocketError extends NatscopeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SOCKET', message, options);
  }
}

/** The network lab could not be built, used or torn down. */
export class LabError extends NatscopeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LAB', message, options);
  }
}

/** The rendezvous server never answered (so no peer could be met). */
export class RendezvousUnreachableError extends NatscopeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RENDEZVOUS_UNREACHABLE', message, options);
  }
}

/** The peer never came to the room within the wait. */
export class PeerTimeoutError extends NatscopeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PEER_TIMEOUT', message, options);
  }
}

/** The peer (or the room) said something that does not parse or that natscope cannot use. */
export class RendezvousProtocolError extends NatscopeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RENDEZVOUS_PROTOCOL', message, options);
  }
}
