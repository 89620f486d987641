/** Protocol ids, wire limits and defaults of the P2P subsystem (docs/protocol.md). */

/** The blob exchange protocol: HAVE, PIECES, GET, RESOLVE over length-prefixed frames (docs/protocol.md §2). */
export const BLOB_PROTOCOL = '/emergence/blob/1.0.0'
/** Our private Kademlia DHT: its own protocol id keeps it apart from the public IPFS DHT. */
export const DHT_PROTOCOL = '/emergence/kad/1.0.0'
/** Yamux with a wider initial stream window (node/stack.ts), offered before the standard /yamux/1.0.0 (docs/protocol.md §1). */
export const WIDE_YAMUX_PROTOCOL = '/emergence/yamux-wide/1.0.0'
/** How long a DHT peer keeps our provider record; dht-routing.ts re-announces well within it. */
export const PROVIDE_VALIDITY_SECONDS = 3600
/** The private key file in the identity directory. */
export const IDENTITY_FILE = 'peer.key'

/** Piece sizes a node accepts from the wire (powers of two); 16 KiB exists for tests only. */
export const MIN_PIECE_SIZE = 16 * 1024
export const MAX_PIECE_SIZE = 4 * 1024 * 1024
export const DEFAULT_MIN_PIECE_SIZE = 1024 * 1024
/** The default piece size aims at no more than this many pieces per blob (docs/protocol.md §3). */
export const TARGET_PIECE_COUNT = 1024
/** Length of one piece hash (sha256). */
export const PIECE_HASH_LENGTH = 32

/** A JSON control frame larger than this is garbage. */
export const MAX_CONTROL_FRAME = 64 * 1024
/** A data frame (piece bytes or a piece hash list) larger than this is garbage. */
export const MAX_DATA_FRAME = MAX_PIECE_SIZE
/** The most pieces a blob may have: its hash list must fit in one data frame. */
export const MAX_PIECES = MAX_DATA_FRAME / PIECE_HASH_LENGTH
/** The most peers a HAVE answer names (peer exchange). */
export const MAX_PEX_PEERS = 32
/** The most addresses given for one peer in peer exchange. */
export const MAX_PEX_ADDRS = 4

/** The longest a server holds a waiting HAVE (a long poll for new pieces, docs/protocol.md §4.1). */
export const MAX_HAVE_WAIT_MS = 10_000
/** How long a puller asks a partial holder to hold a waiting HAVE. */
export const HAVE_WAIT_MS = 2_000

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
export const DEFAULT_PIECE_TIMEOUT_MS = 30_000
export const DEFAULT_IDLE_STREAM_TIMEOUT_MS = 30_000
export const DEFAULT_MAX_UPLOADS = 16
export const DEFAULT_MAX_UPLOADS_PER_PEER = 4
export const DEFAULT_MAX_DOWNLOADS = 32
export const DEFAULT_REQUESTS_PER_PEER = 4
/** How many inbound/outbound blob-protocol streams one connection may carry. */
export const MAX_PROTOCOL_STREAMS = 64

/**
 * Bounds on what peers can make a node hold (docs/protocol.md §6). A served stream buffers at most one request
 * (a control frame and its length prefix); inbound blob streams are capped per peer and per node, and
 * connections per peer and per node, so request buffers stay under MAX_INBOUND_STREAMS * MAX_REQUEST_BUFFER
 * (32 MiB) whatever peers send.
 */
export const MAX_REQUEST_BUFFER = MAX_CONTROL_FRAME + 16
export const MAX_INBOUND_STREAMS_PER_PEER = MAX_PROTOCOL_STREAMS
export const MAX_INBOUND_STREAMS = 512
export const MAX_CONNECTIONS_PER_PEER = 4
export const MAX_CONNECTIONS = 256
