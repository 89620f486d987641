/** Protocol ids, wire limits and defaults of the data lane (docs/protocol.md §9). */

/** The libp2p protocol on which a node offers its lane (a port and a one-time ticket). */
export const LANE_OFFER_PROTOCOL = '/emergence/lane-offer/1.0.0'
/** The ALPN id both ends name in the lane's TLS handshake; it carries the lane protocol's version. */
export const LANE_ALPN = 'emergence-lane/1'
/** AES-GCM only: the suites node:tls runs fastest here (OpenSSL with AES-NI). */
export const LANE_CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384'

/** Bytes of a lane ticket (random, single use). */
export const TICKET_BYTES = 32
/** How long an offered ticket stays redeemable. */
export const TICKET_TTL_MS = 30_000
/** Tickets outstanding per peer; asking for more drops the oldest. */
export const MAX_TICKETS_PER_PEER = 4

/** Fixed part of a lane frame: kind (1), request id (4), header length (4), data length (4). */
export const FRAME_PREFIX_BYTES = 13
/** Requests one lane carries at once; a peer that sends more is cut off. */
export const MAX_LANE_REQUESTS = 64
/** Aborted requests whose answers a lane still expects (to read and drop); past this it is closed. */
export const MAX_LANE_DISCARDS = 256
/** Inbound lanes per peer and in total. */
export const MAX_LANES_PER_PEER = 2
export const MAX_LANES = 256
/** TCP connections beyond the open lanes that may be mid-handshake at once; more are refused at the door. */
export const MAX_PENDING_HANDSHAKES = 64

/** A requester closes a lane it has not used for this long (the server allows the idle-stream timeout). */
export const LANE_IDLE_MS = 10_000
/** After a lane could not be opened, or died, requests to that peer take libp2p streams for this long. */
export const LANE_RETRY_MS = 30_000
