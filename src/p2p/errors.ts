/**
 * Errors of the P2P subsystem, one class per failure; callers and tests match on `name`. The family
 * `ProtocolViolationError` means "the peer speaks garbage": the puller bans such a peer for the session.
 */
import { EmergenceError } from '../util/errors.ts'

/** The remote broke the wire protocol (docs/protocol.md §2). */
export class ProtocolViolationError extends EmergenceError {
  constructor (message: string, options: { code?: string, cause?: unknown } = {}) {
    super(message, { code: options.code ?? 'PROTOCOL_VIOLATION', cause: options.cause })
  }
}

/** A frame longer than the limit for its kind (control or data). */
export class FrameTooLargeError extends ProtocolViolationError {
  constructor (length: number, limit: number, cause?: unknown) {
    super(`frame of ${length} bytes is over the ${limit}-byte limit`, { code: 'FRAME_TOO_LARGE', cause })
  }
}

/** A control frame that is not JSON, or JSON of the wrong shape. */
export class MalformedMessageError extends ProtocolViolationError {
  constructor (why: string, cause?: unknown) {
    super(`malformed message: ${why}`, { code: 'MALFORMED_MESSAGE', cause })
  }
}

/** A message whose `type` this version does not know. */
export class UnknownMessageError extends ProtocolViolationError {
  constructor (type: string) {
    super(`unknown message type ${JSON.stringify(type.slice(0, 40))}`, { code: 'UNKNOWN_MESSAGE' })
  }
}

/** A well-formed message that does not answer the request (wrong type, digest, index or length). */
export class UnexpectedResponseError extends ProtocolViolationError {
  constructor (why: string) {
    super(`unexpected response: ${why}`, { code: 'UNEXPECTED_RESPONSE' })
  }
}

/**
 * The stream ended before the announced length arrived. libp2p ends a stream without an error when the
 * connection is lost, so this is how a vanished peer shows up.
 */
export class TruncatedResponseError extends EmergenceError {
  constructor (why: string, cause?: unknown) {
    super(`response truncated: ${why}`, { code: 'TRUNCATED', cause })
  }
}

/** No connection or stream to the peer could be opened. */
export class PeerUnreachableError extends EmergenceError {
  constructor (peer: string, cause?: unknown) {
    super(`cannot open a stream to peer ${peer}${cause instanceof Error ? `: ${cause.message}` : ''}`, { code: 'PEER_UNREACHABLE', cause })
  }
}

/** A peer did not answer within the time allowed. */
export class PeerTimeoutError extends EmergenceError {
  readonly peer: string

  constructor (peer: string, what: string, ms: number) {
    super(`peer ${peer} did not answer ${what} within ${ms} ms`, { code: 'PEER_TIMEOUT' })
    this.peer = peer
  }
}

/** The peer answered with an ERROR message. */
export class PeerErrorResponse extends EmergenceError {
  readonly remoteCode: string

  constructor (peer: string, remoteCode: string, message: string) {
    super(`peer ${peer} answered ${remoteCode}: ${message.slice(0, 200)}`, { code: 'PEER_ERROR' })
    this.remoteCode = remoteCode
  }
}

/** The peer does not hold the blob or the piece asked for. */
export class NotHaveError extends EmergenceError {
  constructor (peer: string, digest: string, index?: number) {
    super(`peer ${peer} does not have ${digest}${index !== undefined ? ` piece ${index}` : ''}`, { code: 'NOT_HAVE' })
  }
}

/** A complete holder asked us to fetch this piece elsewhere and gave the pieces it would rather send. */
export class PieceDeferredError extends EmergenceError {
  readonly suggest: unknown

  constructor (peer: string, index: number, suggest: unknown) {
    super(`peer ${peer} deferred piece ${index}: it went out already`, { code: 'DEFERRED' })
    this.suggest = suggest
  }
}

/** Piece bytes that do not hash to the piece list's entry. */
export class PieceHashMismatchError extends EmergenceError {
  constructor (digest: string, index: number, peer: string) {
    super(`piece ${index} of ${digest} from peer ${peer} does not match its hash`, { code: 'PIECE_INVALID' })
  }
}

/** A piece hash list that cannot describe the blob (wrong count, size or piece size). */
export class InvalidPieceListError extends EmergenceError {
  constructor (digest: string, why: string) {
    super(`invalid piece list for ${digest}: ${why}`, { code: 'PIECE_LIST_INVALID' })
  }
}

/** No reachable peer holds the blob. */
export class NoProvidersError extends EmergenceError {
  readonly digest: string

  constructor (digest: string, why: string) {
    super(`no peer can provide ${digest}: ${why}`, { code: 'NO_PROVIDERS' })
    this.digest = digest
  }
}

/** Peers report a size above the limit for a blob pulled without a descriptor (an image root). */
export class BlobTooLargeError extends EmergenceError {
  constructor (digest: string, size: number, limit: number) {
    super(`peers report ${digest} as ${size} bytes, over the ${limit}-byte limit`, { code: 'SIZE_INVALID' })
  }
}

/** No trusted peer resolved the `name:tag`. */
export class RefNotResolvedError extends EmergenceError {
  constructor (ref: string, why: string) {
    super(`cannot resolve ${ref} from peers: ${why}`, { code: 'MANIFEST_UNKNOWN' })
  }
}

/**
 * A `name:tag` pull on a node that trusts nobody to say what a tag points at (docs/protocol.md §4.4): neither
 * trusted peers nor an allow-list is configured. A digest needs no trust.
 */
export class UntrustedTagError extends EmergenceError {
  constructor (ref: string) {
    super(`cannot resolve ${ref}: no peer is trusted to resolve tags; name trusted peers (\`node start --trusted <peer ids>\` or \`trustedPeers:\` in config.yaml) or an allow-list (\`--allow\`), or pull by digest (name@sha256:...)`, { code: 'TAG_UNTRUSTED' })
  }
}

/** Trusted peers point a tag at different content: nobody's word wins (docs/protocol.md §4.4). */
export class TagConflictError extends EmergenceError {
  readonly claims: ReadonlyArray<{ digest: string, peers: string[] }>

  constructor (ref: string, claims: Array<{ digest: string, peers: string[] }>) {
    const list = claims.map(c => `${c.digest} from ${c.peers.join(', ')}`).join('; ')
    super(`trusted peers disagree about ${ref}: ${list}`, { code: 'TAG_CONFLICT' })
    this.claims = claims
  }
}

/** A pull would move a local ref that points elsewhere; it does only when asked (`force`). */
export class RefExistsError extends EmergenceError {
  readonly existing: string

  constructor (ref: string, existing: string, incoming: string) {
    super(`${ref} already points at ${existing}, not ${incoming}; pull with force to replace it`, { code: 'REF_EXISTS' })
    this.existing = existing
  }
}

/** An inbound stream over the per-peer or per-node limit: refused at once (docs/protocol.md §6). */
export class StreamLimitError extends EmergenceError {
  constructor (why: string) {
    super(`stream refused: ${why}`, { code: 'STREAM_LIMIT' })
  }
}

/** A limit's wait queue is full: the request is refused at once rather than queued without bound. */
export class QueueFullError extends EmergenceError {
  constructor (maxQueue: number) {
    super(`busy: ${maxQueue} requests are already waiting`, { code: 'BUSY' })
  }
}

/** The identity key file exists but cannot be used. */
export class IdentityFileError extends EmergenceError {
  constructor (path: string, why: string, cause?: unknown) {
    super(`identity key ${path}: ${why}`, { code: 'IDENTITY_INVALID', cause })
  }
}

/** A configuration value the subsystem cannot work with. */
export class ListenAddressInUseError extends EmergenceError {
  readonly address: string

  constructor (address: string) {
    super(`cannot listen on ${address}: the address is in use (another node or program holds the port); set another with --listen or listen: in config.yaml`, { code: 'ADDRESS_IN_USE' })
    this.address = address
  }
}

export class InvalidP2PConfigError extends EmergenceError {
  constructor (why: string) {
    super(`invalid p2p configuration: ${why}`, { code: 'CONFIG_INVALID' })
  }
}
