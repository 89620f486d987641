/**
 * The data lane (docs/protocol.md §9): piece bytes between two peers on their own TCP connection, under TLS 1.3
 * with AES-GCM from node:tls, beside the libp2p connection that stays the control plane (HAVE, PIECES, RESOLVE,
 * peer exchange, the DHT). libp2p streams cost 3-5 CPU-seconds per GiB at each end; TLS on a plain socket costs
 * a fraction of that and moves each piece in one large write.
 *
 * The contract:
 * - **Same peer as libp2p.** A lane is offered over the libp2p connection (a port and a one-time ticket issued to
 *   that connection's peer id) and dialled at that connection's IP. Both ends present a certificate carrying
 *   their libp2p key (the libp2p TLS extension); the requester refuses a lane whose certificate names another
 *   peer than the one it asked, the server one whose certificate does not match the ticket's peer. A proxy that
 *   re-terminates TLS cannot prove either key and is refused.
 * - **Same rules as streams.** The server admits only allow-listed peers, and answers GETs with the stream
 *   server's own code: the same upload slots, token bucket, BUSY and DEFER. The requester takes the same download
 *   slots and token bucket before it picks the lane; banned peers are asked nothing on either path.
 * - **Never needed.** A peer that offers no lane, a blocked port, a wrong certificate or a lane that dies makes
 *   requests to that peer use libp2p streams for a while (`retryMs`); a request caught by a closing lane is
 *   retried once on a stream. A request that times out closes the lane (it stalled) and counts against the peer
 *   as a stream timeout does.
 * - **Plaintext only by agreement.** A node with `plaintext: true` offers a lane without TLS to a peer that asks
 *   for one (both opted in), on the same port (told apart by the first byte). Such a lane is named by its ticket
 *   alone and proves nothing: a bad piece or garbage on it never bans the peer by itself; the piece is fetched
 *   again over an authenticated path first (pulling/recheck.ts), and a path caught changing bytes gets the
 *   peer's plaintext lane closed for good (`Lanes.distrust`), TLS from then on (docs/protocol.md §9.5).
 * - **Bounded.** At most 64 requests in flight per lane, 2 lanes per peer and 256 in all; frames are limited as
 *   on streams (64 KiB headers, 4 MiB pieces); the server waits for the socket to drain before it writes more;
 *   every wait has a timeout and an AbortSignal.
 *
 * @example
 * ```ts
 * const lanes = new Lanes({ node, identity }, { host: '0.0.0.0', port: 4151, allowList })
 * await lanes.start(serverContext)                 // listen, and offer on /emergence/lane-offer/1.0.0
 * const lane = await lanes.forPeer(peerId, signal) // undefined: use a libp2p stream
 * const { response, data } = await lane!.request({ type: 'GET', digest, index, pieceSize }, 30_000, signal)
 * await lanes.stop()
 * ```
 * The exchange wires this in (exchange.ts: `ExchangeInit.lanes`, `ClientContext.lane`).
 */
export { Lanes, type LaneInit, type LaneComponents } from './lanes.ts'
export { LaneConnection, type LaneAnswer } from './connection.ts'
export { makeLaneCredentials, provenPeer, type LaneCredentials } from './certificate.ts'
export { requestOffer, serveOffer, hostOf, type LaneOffer } from './offer.ts'
export { FrameReader, Chunks, KIND, encodeFrame, type LaneFrame } from './frames.ts'
export { TicketBook } from './tickets.ts'
export * from './constants.ts'
export * from './errors.ts'
